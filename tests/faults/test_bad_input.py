"""Bad input: one `error: ...` line naming the culprit, exit code 2, no traceback.

The batch-larger-than-the-data-set case is tests/engine/test_train.py::test_batch_larger_than_the_data_set_is_an_error.
"""
import shutil

import pytest
import yaml

import mindcv
import train
import validate
from fault_helpers import MODEL, REPO, finish, start, user_error
from mindcv.checkpoint.manager import CheckpointManager
from tests.engine.engine_helpers import train_args


@pytest.fixture(scope="module")
def inputs(fault_data, tmp_path_factory) -> dict:
    """Broken files and folders, beside good ones."""
    root = tmp_path_factory.mktemp("bad_inputs")
    corrupt = root / "corrupt"
    shutil.copytree(fault_data, corrupt)
    broken = corrupt / "train" / "cat" / "broken.jpg"
    # What a failed download saves. (Some damaged JPEGs hang or crash MindSpore's decoder instead: see the README.)
    broken.write_text("<html><head><title>404 Not Found</title></head><body>Not Found</body></html>\n")
    empty_class = root / "empty_class"
    shutil.copytree(fault_data, empty_class)
    for image in (empty_class / "train" / "bee").iterdir():
        image.unlink()

    network = mindcv.create_model(MODEL, num_classes=4)
    config = yaml.safe_dump({"model": MODEL, "num_classes": 4})
    trained = CheckpointManager(root / "run", MODEL).save(network, 1, 2, config=config)
    truncated = root / "truncated.ckpt"
    truncated.write_bytes(trained.read_bytes()[: trained.stat().st_size // 2])
    bad_yaml = root / "typo.yaml"
    bad_yaml.write_text("lr: 0.01\nbatchsize: 8\n")
    wrong_type = root / "wrong_type.yaml"
    wrong_type.write_text("batch_size: 8.5\n")
    return {
        "data": fault_data, "corrupt": corrupt, "broken": broken, "empty_class": empty_class, "trained": trained,
        "truncated": truncated, "bad_yaml": bad_yaml, "wrong_type": wrong_type, "root": root,
    }


def _cli_cases(i: dict) -> dict:
    """name -> (script, arguments, text the error line must contain)."""
    return {
        "unknown YAML key": (
            "train.py", train_args(i["data"], i["root"] / "s1", "-c", str(i["bad_yaml"])),
            f"unknown config key 'batchsize' (in {i['bad_yaml']}); did you mean 'batch_size'?",
        ),
        "corrupt image": (
            "train.py", train_args(i["corrupt"], i["root"] / "s2", "--mode", "1"),
            f"{i['broken']}: cannot decode this image",
        ),
        "num_classes mismatch": (
            "validate.py", train_args(i["data"], i["root"] / "s3", "--num_classes", "10", "--ckpt_path", str(i["trained"])),
            f"{i['trained']}: its classifier has 4 classes but the network has 10",
        ),
    }


CLI_CASES = ("unknown YAML key", "corrupt image", "num_classes mismatch")


@pytest.fixture(scope="module")
def cli_runs(inputs, tmp_path_factory):
    """Every command-line case, started together (each spends most of its time importing MindSpore)."""
    workdir = tmp_path_factory.mktemp("cli")
    cases = _cli_cases(inputs)
    assert tuple(cases) == CLI_CASES
    processes = {name: start(REPO / script, args, workdir, name.replace(" ", "_")) for name, (script, args, _) in cases.items()}
    yield workdir, cases, processes
    for process in processes.values():
        if process.poll() is None:
            process.kill()
            process.wait()


@pytest.mark.parametrize("case", CLI_CASES)
def test_command_line_prints_one_error_naming_the_culprit(cli_runs, case):
    workdir, cases, processes = cli_runs
    stderr = finish(processes[case], workdir, case.replace(" ", "_"))
    assert processes[case].returncode == 2, stderr[-3000:]
    assert cases[case][2] in user_error(stderr)


def _error(main, argv: list, capsys) -> str:
    assert main(argv) == 2
    return user_error(capsys.readouterr().err)


def _train_error(argv: list, capsys) -> str:
    return _error(train.main, argv, capsys)


def test_wrong_value_type_names_key_file_and_value(inputs, tmp_path, capsys):
    error = _train_error(train_args(inputs["data"], tmp_path, "-c", str(inputs["wrong_type"])), capsys)
    assert f"config key 'batch_size' (in {inputs['wrong_type']}): expected an integer, got 8.5" in error
    error = _train_error(train_args(inputs["data"], tmp_path, "--epoch_size", "two"), capsys)
    assert "config key 'epoch_size' (on the command line): expected an integer, got 'two'" in error


def test_missing_data_dir(tmp_path, capsys, monkeypatch):
    error = _train_error(train_args(tmp_path / "nowhere", tmp_path / "s"), capsys)
    assert error == f"error: {tmp_path / 'nowhere'}: dataset folder not found"
    monkeypatch.setenv("MINDCV_HOME", str(tmp_path / "home"))
    error = _train_error(train_args("", tmp_path / "s"), capsys)
    assert "dataset folder not found; data_dir (root) is not set" in error


def test_missing_split(inputs, tmp_path, capsys):
    error = _train_error(train_args(inputs["data"], tmp_path, "--train_split", "training"), capsys)
    assert f"{inputs['data'] / 'training'}: split folder 'training' not found in {inputs['data']} (found: train, val)" in error


def test_empty_class_folder(inputs, tmp_path, capsys):
    error = _train_error(train_args(inputs["empty_class"], tmp_path), capsys)
    assert f"{inputs['empty_class'] / 'train' / 'bee'}: class folder holds no images" in error


def test_truncated_checkpoint(inputs, tmp_path, capsys):
    error = _error(validate.main, train_args(inputs["data"], tmp_path, "--ckpt_path", str(inputs["truncated"])), capsys)
    assert f"{inputs['truncated']}: not a readable ckpt checkpoint (truncated or another kind of file)" in error


def test_checkpoint_of_another_width_for_fine_tuning(inputs, tmp_path, capsys):
    error = _train_error(train_args(inputs["data"], tmp_path, "--model", "mobilenet_v2_050", "--ckpt_path", str(inputs["trained"])), capsys)
    assert f"{inputs['trained']}: does not fit this network" in error


def test_resuming_from_a_checkpoint_of_another_model(inputs, tmp_path, capsys):
    argv = train_args(inputs["data"], tmp_path, "--model", "mobilenet_v2_050", "--ckpt_path", str(inputs["trained"]), "--resume_opt", "True")
    error = _train_error(argv, capsys)
    assert f"{inputs['trained']}: cannot resume this run: the checkpoint is of model {MODEL} with num_classes 4" in error
    argv = train_args(inputs["data"], tmp_path, "--num_classes", "10", "--ckpt_path", str(inputs["trained"]), "--resume_opt", "True")
    error = _train_error(argv, capsys)
    assert "(classifier.1.weight has shape (4, 1280) there, (10, 1280) here); resuming needs the same model and num_classes" in error


def test_checkpoint_with_another_head_needs_num_classes_set_to_fine_tune(inputs, tmp_path, capsys):
    argv = train_args(inputs["data"], tmp_path, "--ckpt_path", str(inputs["trained"]))
    without_num_classes = argv[: argv.index("--num_classes")] + argv[argv.index("--num_classes") + 2:]
    error = _train_error(without_num_classes, capsys)
    assert f"{inputs['trained']}: its classifier has 4 classes but the network has 1000" in error


def test_resume_from_a_folder_without_checkpoints(inputs, tmp_path, capsys):
    empty = tmp_path / "no_checkpoints"
    empty.mkdir()
    error = _train_error(train_args(inputs["data"], tmp_path / "s", "--ckpt_path", str(empty), "--resume_opt", "True"), capsys)
    assert f"{empty}: no checkpoint to resume from" in error


def test_resuming_a_mid_epoch_checkpoint_with_another_number_of_steps(inputs, tmp_path, capsys):
    step_state = CheckpointManager(tmp_path / "run", MODEL).save_step(mindcv.create_model(MODEL, num_classes=4), 0, 3, 10)
    error = _train_error(train_args(inputs["data"], tmp_path / "s", "--ckpt_path", str(step_state), "--resume_opt", "True"), capsys)
    assert error == (
        f"error: {step_state}: saved after step 3 of an epoch of 10 steps, but this run has 2 steps per epoch "
        "(batch_size, data or number of processes changed): resume from an epoch checkpoint instead"
    )
