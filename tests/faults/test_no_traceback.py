"""Every entry point, fed bad input, prints one `error: ...` line naming the culprit and exits with 2: no traceback.

The entry points run in-process (each case costs milliseconds, not a MindSpore import);
tests/faults/test_bad_input.py runs a few of the same cases as real subprocesses.
"""
import contextlib
import io
from pathlib import Path
from typing import Callable, Dict, List, Tuple

import pytest

import config as config_script
import export
import infer
import train
import validate
from mindcv import convert
from mindcv.data import check
from tests.engine.evalhelpers import write_folder

ENTRY_POINTS: Dict[str, Callable] = {
    "train.py": train.main,
    "validate.py": validate.main,
    "infer.py": infer.main,
    "export.py": export.main,
    "config.py": config_script.main,
    "convert": convert.main,
    "data check": check.main,
}
# The entry points that read mindcv's config (-c FILE and the schema's keys).
CONFIG_ENTRY_POINTS = ("train.py", "validate.py", "infer.py", "export.py", "config.py")


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> Dict[str, Path]:
    root = tmp_path_factory.mktemp("bad")
    made = {
        "yaml_syntax": ("bad.yaml", "lr: [0.1\nbatch_size: 8\n"),
        "yaml_list": ("list.yaml", "- lr\n- 0.1\n"),
        "binary_config": ("binary.yaml", b"\xff\xfe\x00\x81garbage"),
        "garbage_ckpt": ("garbage.ckpt", b"\x00\x01 this is not a checkpoint" * 40),
        "text_pth": ("weights.pth", "not a pickle"),
        "foreign_suffix": ("weights.h5x", "?"),
        "image": ("photo.jpg", b"\xff\xd8 not really a jpeg"),
    }
    paths = {}
    for key, (name, content) in made.items():
        path = root / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode())
        paths[key] = path
    paths["folder"] = root / "a_folder.ckpt"
    paths["folder"].mkdir()
    (root / "a_folder.yaml").mkdir()
    paths["folder_yaml"] = root / "a_folder.yaml"
    paths["missing"] = root / "missing.yaml"
    paths["root"] = root
    paths["data"] = root / "data"
    write_folder(paths["data"])
    return paths


def _config_cases(f: Dict[str, Path]) -> List[Tuple[List[str], str]]:
    """(arguments, text the error line must contain), valid for every config-reading entry point."""
    return [
        (["-c", str(f["missing"])], f"{f['missing']}: config file not found"),
        (["-c", str(f["folder_yaml"])], f"{f['folder_yaml']}: is a folder, not a config file"),
        (["-c", str(f["yaml_syntax"])], f"{f['yaml_syntax']}: not valid YAML"),
        (["-c", str(f["yaml_list"])], f"{f['yaml_list']}: expected key: value lines, got a list"),
        (["-c", str(f["binary_config"])], f"{f['binary_config']}: not a text file"),
        (["-c"], "argument -c/--config: expected one argument"),
        (["--model", "resnet50"], "config key 'model': unknown model 'resnet50'"),
        (["--model", "mobilenet_v2_10"], "did you mean"),
        (["--image_resize", "-32"], "config key 'image_resize' (on the command line): must be positive, got -32"),
        (["--batch_size", "0"], "config key 'batch_size' (on the command line): must be positive, got 0"),
        (["--num_classes", "-1"], "config key 'num_classes'"),
        (["--crop_pct", "1.5"], "config key 'crop_pct' (on the command line): must be between 0 and 1"),
        (["--interpolation", "lanczos"], "config key 'interpolation'"),
        (["--no_such_key", "1"], "unknown config key 'no_such_key'"),
    ]


def _run(entry: str, argv: List[str]) -> Tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = ENTRY_POINTS[entry](argv)
    return code, err.getvalue()


def _assert_one_error_line(entry: str, argv: List[str], expected: str) -> None:
    code, stderr = _run(entry, argv)
    assert "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert code == 2 and len(errors) == 1, (entry, argv, code, stderr)
    assert expected in errors[0], (entry, argv, errors[0])


@pytest.mark.parametrize("entry", CONFIG_ENTRY_POINTS)
def test_config_entry_points_reject_bad_configs_and_values(entry, files):
    for argv, expected in _config_cases(files):
        _assert_one_error_line(entry, argv, expected)


@pytest.mark.parametrize("entry", ["validate.py", "infer.py", "export.py"])
def test_bad_checkpoints_are_one_line(entry, files, tmp_path):
    extra = {
        "validate.py": ["--data_dir", str(files["data"]), "--num_classes", "3"],
        "infer.py": ["--input", str(files["image"])],
        "export.py": ["--output", str(tmp_path / "net")],
    }[entry]
    cases = [
        (files["garbage_ckpt"], f"{files['garbage_ckpt']}: not a readable ckpt checkpoint"),
        (files["folder"], f"{files['folder']}: checkpoint file not found"),
        (files["root"] / "absent.ckpt", "absent.ckpt: checkpoint file not found"),
        (files["foreign_suffix"], f"{files['foreign_suffix']}"),
    ]
    for path, expected in cases:
        _assert_one_error_line(entry, ["--model", "mobilenet_v2_035", "--ckpt_path", str(path), *extra], expected)


def test_entry_point_options(files, tmp_path):
    model = ["--model", "mobilenet_v2_035"]
    _assert_one_error_line("infer.py", model, "config key 'input'")
    _assert_one_error_line("infer.py", model + ["--input", str(files["root"] / "nothing_here")], "no such image file or folder")
    _assert_one_error_line("infer.py", model + ["--input", str(files["image"]), "--topk", "0"], "config key 'topk'")
    _assert_one_error_line("infer.py", model + ["--input", str(files["image"])], f"{files['image']}: cannot read this image")
    _assert_one_error_line("infer.py", model + ["--input", str(files["image"]), "--output", "x.txt"], "must end with .json")
    _assert_one_error_line("validate.py", model + ["--results_file", "r.txt"], "must end with .json or .csv")
    _assert_one_error_line("validate.py", model + ["--data_dir", str(tmp_path / "none")], "dataset folder not found")
    _assert_one_error_line("validate.py", model + ["--data_dir", str(files["image"])], str(files["image"]))
    _assert_one_error_line("export.py", model + ["--onnx_batch_size", "-2"], "config key 'onnx_batch_size'")
    _assert_one_error_line("export.py", model + ["--format", "tflite"], "config key 'format'")
    _assert_one_error_line("train.py", model + ["--data_dir", str(tmp_path / "none")], "dataset folder not found")
    _assert_one_error_line("train.py", model + ["--ckpt_save_dir", str(files["image"])], str(files["image"]))


def test_converter_and_data_checker(files, tmp_path):
    out = str(tmp_path / "out.ckpt")
    _assert_one_error_line("convert", [], "the following arguments are required")
    _assert_one_error_line("convert", [str(files["root"] / "absent.pth"), out], "absent.pth")
    _assert_one_error_line("convert", [str(files["text_pth"]), out], str(files["text_pth"]))
    _assert_one_error_line("convert", [str(files["garbage_ckpt"]), out], str(files["garbage_ckpt"]))
    _assert_one_error_line("convert", [str(files["folder"]), out], str(files["folder"]))
    _assert_one_error_line("data check", [str(tmp_path / "nowhere")], "nowhere")
    _assert_one_error_line("data check", [str(files["image"])], str(files["image"]))
    _assert_one_error_line("data check", [str(files["root"]), "--workers", "-1"], "--workers")
    _assert_one_error_line("data check", [], "the following arguments are required")


def test_exported_files_quantization_and_keras_files(files, tmp_path):
    model = ["--model", "mobilenet_v2_035"]
    validate_file = model + ["--data_dir", str(files["data"]), "--num_classes", "3", "--model_file"]
    _assert_one_error_line("validate.py", validate_file + [str(tmp_path / "absent.onnx")], "absent.onnx: exported model not found")
    _assert_one_error_line("validate.py", validate_file + [str(files["garbage_ckpt"])], "not a model file (expected .onnx or .mindir)")
    (tmp_path / "text.onnx").write_text("not onnx")
    _assert_one_error_line("validate.py", validate_file + [str(tmp_path / "text.onnx")], "text.onnx: not a readable ONNX model")
    export_int8 = model + ["--format", "onnx", "--output", str(tmp_path / "net"), "--quantize", "int8"]
    _assert_one_error_line("export.py", export_int8, "config key 'calib_data'")
    _assert_one_error_line("export.py", export_int8 + ["--calib_data", str(tmp_path / "none")], "calibration folder not found")
    _assert_one_error_line("export.py", export_int8 + ["--calib_method", "kl"], "config key 'calib_method'")
    _assert_one_error_line("export.py", model + ["--quantize", "int4"], "config key 'quantize'")
    (tmp_path / "text.h5").write_text("not hdf5")
    _assert_one_error_line("convert", [str(tmp_path / "text.h5"), str(tmp_path / "out.ckpt")], "text.h5: not a readable HDF5 file")
