"""Resolve a run's settings: defaults, then a YAML file, then the command line."""
import argparse
import logging
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Tuple

import yaml

from ..errors import ConfigError, did_you_mean
from ..fileio import write_text_atomic
from .schema import IGNORED_KEYS, LEGACY_KEYS, LEGACY_VALUES, OPTIONS, SCHEMA, Option

_logger = logging.getLogger(__name__)

_TRUE = {"true", "yes", "1", "on"}
_FALSE = {"false", "no", "0", "off"}
_NULL = {"none", "null", "~", ""}
_POSITIVE = {
    "batch_size", "epoch_size", "val_interval", "log_interval", "ckpt_save_interval", "keep_checkpoint_max",
    "gradient_accumulation_steps", "num_parallel_workers", "image_resize", "num_classes", "in_channels",
    "loss_scale", "clip_value",
}
_NON_NEGATIVE = {
    "lr", "min_lr", "weight_decay", "momentum", "warmup_epochs", "warmup_factor", "decay_epochs", "decay_rate",
    "mixup", "cutmix", "val_batch_size", "aug_repeats", "num_samples", "drop_rate", "eps", "ckpt_save_steps",
}
_UNIT_INTERVAL = {"hflip", "vflip", "re_prob", "cutmix_prob", "label_smoothing", "ema_decay", "crop_pct", "drop_rate"}


def _fail(option: Option, source: str, problem: str) -> ConfigError:
    return ConfigError(f"config key '{option.name}' ({source}): {problem}")


def _number(option: Option, value: Any, source: str, integer: bool) -> Any:
    if isinstance(value, str):
        try:
            value = int(value) if integer else float(value)
        except ValueError:
            raise _fail(option, source, f"expected {'an integer' if integer else 'a number'}, got '{value}'") from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or (integer and not isinstance(value, int)):
        raise _fail(option, source, f"expected {'an integer' if integer else 'a number'}, got {value!r}")
    return value if integer else float(value)


def _numbers(option: Option, value: Any, source: str, integer: bool) -> List[Any]:
    if not isinstance(value, (list, tuple)) or not value:
        raise _fail(option, source, f"expected a list of numbers, got {value!r}")
    return [_number(option, v, source, integer) for v in value]


def _typed(option: Option, value: Any, source: str) -> Any:
    """Check one value against its option's type; strings (from the CLI) are parsed."""
    if isinstance(value, list) and len(value) == 1 and isinstance(value[0], str) and value[0].lower() in _NULL:
        value = None  # `--color_jitter none` arrives as a one-element list
    if value is None or (isinstance(value, str) and value.lower() in _NULL and option.kind != "str"):
        if option.nullable:
            return None
        raise _fail(option, source, "a value is required")
    kind = option.kind
    if kind == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise _fail(option, source, f"expected true or false, got {value!r}")
    if kind in ("int", "float"):
        return _number(option, value, source, kind == "int")
    if kind in ("ints", "floats"):
        return _numbers(option, value, source, kind == "ints")
    if kind == "strs":
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, (list, tuple)) or not values or not all(isinstance(v, str) for v in values):
            raise _fail(option, source, f"expected one or more strings, got {value!r}")
        return list(values)
    if kind == "number_or_floats":
        if isinstance(value, (list, tuple)):
            return _numbers(option, value, source, False) if len(value) > 1 else _number(option, value[0], source, False)
        return _number(option, value, source, False)
    if kind == "str_or_number":
        if isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                return value
        return _number(option, value, source, False)
    if not isinstance(value, str):
        raise _fail(option, source, f"expected a string, got {value!r}")
    return value


def _checked(option: Option, value: Any, source: str) -> Any:
    value = _typed(option, value, source)
    if value is None:
        return value
    if option.choices and value not in option.choices:
        raise _fail(option, source, f"'{value}' is not one of {', '.join(map(str, option.choices))}{did_you_mean(value, option.choices)}")
    name = option.name
    if name in _POSITIVE and value <= 0:
        raise _fail(option, source, f"must be positive, got {value}")
    if name in _NON_NEGATIVE and value < 0:
        raise _fail(option, source, f"must not be negative, got {value}")
    if name in _UNIT_INTERVAL and not 0 <= value <= 1:
        raise _fail(option, source, f"must be between 0 and 1, got {value}")
    return value


def _unknown_key(key: str, source: str, schema: Dict[str, Option]) -> ConfigError:
    return ConfigError(f"unknown config key '{key}' ({source}){did_you_mean(key, schema)}")


def _options(extra_options: Sequence[Option]) -> Tuple[Tuple[Option, ...], Dict[str, Option]]:
    """The schema's options plus an entry point's own (e.g. validate.py's results_file)."""
    clashes = [option.name for option in extra_options if option.name in SCHEMA or option.name == "config"]
    if clashes:
        raise ValueError(f"extra options {', '.join(clashes)} clash with config keys")
    options = OPTIONS + tuple(extra_options)
    return options, {option.name: option for option in options}


def load_yaml(path: str, extra_options: Sequence[Option] = ()) -> Dict[str, Any]:
    """Checked values of a flat YAML config (MindCV's layout); `extra_options` are accepted too."""
    _, schema = _options(extra_options)
    file = Path(path)
    if not file.is_file():
        raise ConfigError(f"{path}: config file not found")
    try:
        raw = yaml.safe_load(file.read_text()) or {}
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML ({err})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected key: value lines, got a {type(raw).__name__}")
    values: Dict[str, Any] = {}
    for key, value in raw.items():
        source = f"in {path}"
        if key in IGNORED_KEYS:
            continue
        if key in LEGACY_KEYS:
            new_key, mapping = LEGACY_KEYS[key]
            _logger.warning("%s: '%s' is an old MindCV key; reading it as '%s'", path, key, new_key)
            key, value = new_key, mapping.get(value, value)
        if key not in schema:
            raise _unknown_key(key, source, schema)
        if isinstance(value, str):
            value = LEGACY_VALUES.get(key, {}).get(value, value)
        values[key] = _checked(schema[key], value, source)
    return values


def create_parser(description: str = "mindcv", extra_options: Sequence[Option] = ()) -> argparse.ArgumentParser:
    """A parser with one option per schema key (and per extra option); unset options stay absent (so YAML values win)."""
    parser = argparse.ArgumentParser(description=description, argument_default=argparse.SUPPRESS, allow_abbrev=False)
    parser.add_argument("-c", "--config", default="", help="YAML file of settings (the command line overrides it)")
    groups: Dict[str, argparse._ArgumentGroup] = {}
    for option in _options(extra_options)[0]:
        group = groups.setdefault(option.group, parser.add_argument_group(option.group))
        kwargs: Dict[str, Any] = {"help": f"{option.help} (default: {option.default})", "metavar": option.kind.upper()}
        if option.kind == "bool":
            kwargs.update(nargs="?", const="true", metavar="BOOL")
        elif option.kind in ("ints", "floats", "number_or_floats", "strs"):
            kwargs.update(nargs="+")
        group.add_argument(f"--{option.name}", **kwargs)
    return parser


def parse_args(
    argv: Optional[Sequence[str]] = None, description: str = "mindcv", extra_options: Sequence[Option] = ()
) -> argparse.Namespace:
    """Settings for a run: schema defaults, overridden by `-c FILE`, overridden by the command line.

    `extra_options` are an entry point's own options, typed and checked like config keys.
    `explicit_keys` in the result lists the keys the YAML file or the command line set.
    """
    options, schema = _options(extra_options)
    parser = create_parser(description, extra_options)
    namespace, extras = parser.parse_known_args(argv)
    if extras:
        flag = next((e for e in extras if e.startswith("-")), extras[0])
        raise _unknown_key(flag.lstrip("-").split("=")[0], "on the command line", schema)
    given = vars(namespace)
    config_path = given.pop("config", "")
    values = {option.name: option.default for option in options}
    from_yaml = load_yaml(config_path, extra_options) if config_path else {}
    values.update(from_yaml)
    for key, value in given.items():
        if isinstance(value, list) and schema[key].kind == "str_or_number":
            value = value[0]
        values[key] = _checked(schema[key], value, "on the command line")
    values["config"] = config_path
    values["explicit_keys"] = frozenset(from_yaml) | frozenset(given)
    return argparse.Namespace(**values)


def config_to_dict(args: argparse.Namespace) -> Dict[str, Any]:
    return {option.name: getattr(args, option.name) for option in OPTIONS}


def save_config(args: argparse.Namespace, path: str) -> None:
    """Write the resolved settings as a YAML file that `-c` reads back unchanged."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, yaml.safe_dump(config_to_dict(args), sort_keys=False))
