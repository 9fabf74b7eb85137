from pathlib import Path

import pytest

from mindcv.config import OPTIONS, SCHEMA, Option, load_yaml, parse_args, parse_config
from mindcv.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parents[2] / "configs"
EXTRA = (
    Option("results_file", "str", "", "results", "validation"),
    Option("per_class", "bool", False, "per-class accuracy", "validation"),
    Option("inputs", "strs", None, "files", "inference", nullable=True),
)


def write_yaml(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return str(path)


def test_command_line_over_yaml_over_defaults(tmp_path):
    config = write_yaml(tmp_path, "lr: 0.1\nbatch_size: 64\nmodel: mobilenet_v2_075\n")
    args = parse_args(["-c", config, "--lr", "0.5"])
    assert args.lr == 0.5  # command line
    assert args.batch_size == 64 and args.model == "mobilenet_v2_075"  # YAML
    assert args.epoch_size == SCHEMA["epoch_size"].default  # default
    assert args.config == config
    assert args.explicit_keys == {"lr", "batch_size", "model"}
    assert parse_args([]).explicit_keys == frozenset()


@pytest.mark.parametrize("text, expected", [("False", False), ("false", False), ("0", False), ("no", False), ("True", True), ("1", True)])
def test_booleans_are_real_booleans(text, expected):
    assert parse_args(["--ema", text]).ema is expected


def test_bare_boolean_flag_means_true(tmp_path):
    config = write_yaml(tmp_path, "ema: true\n")
    assert parse_args(["--ema"]).ema is True
    assert parse_args(["-c", config, "--ema", "False"]).ema is False


def test_lists():
    args = parse_args(["--mean", "1", "2", "3", "--multi_step_decay_milestones", "5", "9", "--color_jitter", "0.2", "0.3", "0.4"])
    assert args.mean == [1.0, 2.0, 3.0]
    assert args.multi_step_decay_milestones == [5, 9]
    assert args.color_jitter == [0.2, 0.3, 0.4]
    assert parse_args(["--color_jitter", "0.3"]).color_jitter == 0.3


def test_unknown_key_suggests_the_nearest(tmp_path):
    with pytest.raises(ConfigError, match="unknown config key 'batchsize'.*did you mean 'batch_size'"):
        parse_args(["--batchsize", "3"])
    config = write_yaml(tmp_path, "learning_rat: 0.1\n")
    with pytest.raises(ConfigError, match=r"'learning_rat' \(in .*config.yaml\)"):
        parse_args(["-c", config])


@pytest.mark.parametrize(
    "argv, key",
    [(["--batch_size", "many"], "batch_size"), (["--lr", "fast"], "lr"), (["--ema", "maybe"], "ema"), (["--batch_size", "0"], "batch_size")],
)
def test_bad_value_names_the_key(argv, key):
    with pytest.raises(ConfigError, match=f"config key '{key}'"):
        parse_args(argv)


def test_bad_yaml_value_names_key_and_file(tmp_path):
    config = write_yaml(tmp_path, "lr: [1, 2]\n")
    with pytest.raises(ConfigError, match=r"'lr' \(in .*config.yaml\): expected a number"):
        load_yaml(config)


def test_legacy_mindcv_keys(tmp_path):
    config = write_yaml(tmp_path, "filter_bias_and_bn: True\ndynamic_loss_scale: True\nscheduler: warmup_cosine_decay\n")
    values = load_yaml(config)
    assert values == {"weight_decay_filter": "norm_and_bias", "loss_scale_type": "dynamic", "scheduler": "cosine_decay"}
    assert load_yaml(write_yaml(tmp_path, "filter_bias_and_bn: False\n")) == {"weight_decay_filter": "disable"}


def test_every_shipped_config_loads():
    paths = sorted(CONFIG_DIR.rglob("*.yaml"))
    assert paths
    for path in paths:
        values = load_yaml(str(path))
        assert values and set(values) <= set(SCHEMA), path


def test_extra_options_are_typed_checked_and_listed(tmp_path):
    args = parse_args(["--per_class", "False", "--results_file", "out.csv", "--inputs", "a.jpg", "b.jpg"], extra_options=EXTRA)
    assert args.per_class is False and args.results_file == "out.csv" and args.inputs == ["a.jpg", "b.jpg"]
    defaults = parse_args([], extra_options=EXTRA)
    assert (defaults.per_class, defaults.results_file, defaults.inputs) == (False, "", None)
    with pytest.raises(ConfigError, match="config key 'per_class'.*expected true or false"):
        parse_args(["--per_class", "perhaps"], extra_options=EXTRA)
    with pytest.raises(ConfigError, match="did you mean 'per_class'"):
        parse_args(["--per_clas", "True"], extra_options=EXTRA)
    # without the extras, the same flag is an unknown key
    with pytest.raises(ConfigError, match="unknown config key 'per_class'"):
        parse_args(["--per_class", "True"])
    # a YAML file may set them too, and the command line still wins
    config = write_yaml(tmp_path, "per_class: true\nresults_file: a.json\ninputs: one.png\n")
    args = parse_args(["-c", config, "--results_file", "b.json"], extra_options=EXTRA)
    assert (args.per_class, args.results_file, args.inputs) == (True, "b.json", ["one.png"])
    assert {"per_class", "results_file", "inputs"} <= args.explicit_keys


def test_extra_option_may_not_shadow_a_config_key():
    with pytest.raises(ValueError, match="lr"):
        parse_args([], extra_options=(Option("lr", "float", 1.0, "clash", "x"),))


def test_schema_defaults_pass_their_own_checks():
    args = parse_args([])
    assert all(getattr(args, option.name) == option.default for option in OPTIONS)


def test_every_schema_key_is_a_field_of_exactly_one_section():
    from dataclasses import fields

    from mindcv.config.settings import SECTIONS

    section_fields = [f.name for cls in SECTIONS.values() for f in fields(cls) if f.name != "strict_head"]
    assert sorted(section_fields) == sorted(option.name for option in OPTIONS)
    assert set(parse_config([]).to_dict()) == set(SCHEMA)


def test_dataset_sink_mode_set_true_says_it_has_no_effect(caplog):
    with caplog.at_level("WARNING", logger="mindcv"):
        parse_config([])
    assert "dataset_sink_mode" not in caplog.text  # the default alone says nothing
    with caplog.at_level("WARNING", logger="mindcv"):
        parse_config(["--dataset_sink_mode", "True"])
    assert "dataset_sink_mode true has no effect" in caplog.text
