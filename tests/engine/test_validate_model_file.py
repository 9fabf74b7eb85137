"""validate.py --model_file: the exported ONNX / MINDIR file scores what its checkpoint scores."""
import json

import numpy as np
import pytest
from evalhelpers import IMAGE_SIZE, MODEL, make_checkpoint, reference_logits, script_main, use_cpu_pynative, write_folder
from test_validate import CLASSES, expected_counts

from mindcv import create_model
from mindcv.deploy import export_network

pytest.importorskip("onnxruntime")
main = script_main("validate.py")
ONNX_BATCH = 3  # 7 images: batches of 3, 3 and 1 + 2 padding images


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    use_cpu_pynative()
    root = tmp_path_factory.mktemp("model_file")
    written = write_folder(root / "data")
    files = [file for file, _ in written]
    checkpoint = make_checkpoint(root / "net3.ckpt", 3, files, seed=4)
    network = create_model(MODEL, num_classes=3, checkpoint_path=checkpoint)
    shape = (3, IMAGE_SIZE, IMAGE_SIZE)
    labels = np.array([CLASSES.index(name) for _, name in written])
    assert main([*options(root / "data", "--ckpt_path", checkpoint), "--results_file", str(root / "ckpt.json")]) == 0
    return {
        "data": root / "data",
        "onnx": export_network(network, root / "net", "onnx", shape, batch_size=ONNX_BATCH),
        "mindir": export_network(network, root / "net", "mindir", shape),
        "expected": expected_counts(reference_logits(checkpoint, 3, files), labels, 3),
        "checkpoint_result": json.loads((root / "ckpt.json").read_text()),
    }


def options(data_dir, *weights) -> list:
    return [
        "--data_dir", str(data_dir), *map(str, weights), "--model", MODEL, "--num_classes", "3",
        "--image_resize", str(IMAGE_SIZE), "--num_parallel_workers", "1", "--device_target", "CPU", "--mode", "1",
    ]


def argv(data_dir, model_file, *extra: str) -> list:
    return [*options(data_dir, "--model_file", model_file), *extra]


@pytest.mark.parametrize("file_format", ["onnx", "mindir"])
def test_exported_file_gives_the_checkpoints_counts(exported, tmp_path, file_format, capsys):
    expected = exported["expected"]
    out = tmp_path / "results.json"
    code = main(argv(
        exported["data"], exported[file_format], "--batch_size", "2", "--per_class", "True",
        "--confusion_matrix", str(tmp_path / "cm.png"), "--results_file", str(out),
    ))
    assert code == 0
    result = json.loads(out.read_text())
    record = result if "count" in result else result["result"]
    for key in ("count", "correct_top1", "correct_top5"):
        assert record[key] == expected[key], key
    # The same transforms and metrics as validating the checkpoint; the loss differs by float rounding only
    # (onnxruntime's and MindSpore's convolutions sum in other orders; this network's calibrated BN amplifies it).
    assert record["loss"] == pytest.approx(exported["checkpoint_result"]["loss"], rel=1e-3)
    assert record["checkpoint"] == str(exported[file_format])
    # ONNX runs at its static batch, the last batch padded; MINDIR (dynamic) at the configured one.
    assert record["batch_size"] == (ONNX_BATCH if file_format == "onnx" else 2)
    assert [row["correct"] for row in result["per_class"]] == expected["per_class_correct"]
    assert result["confusion_matrix"] == expected["confusion_matrix"]
    assert (tmp_path / "cm.png").is_file() and "ant" in capsys.readouterr().out


def one_error_line(capsys) -> str:
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "Traceback" not in captured.err + captured.out
    return lines[0]


def test_missing_foreign_and_misfit_files_are_one_error_line(exported, tmp_path, capsys):
    data = exported["data"]
    assert main(argv(data, tmp_path / "absent.onnx")) == 2
    assert "absent.onnx: exported model not found" in one_error_line(capsys)
    (tmp_path / "text.onnx").write_text("not a model")
    assert main(argv(data, tmp_path / "text.onnx")) == 2
    assert "text.onnx: not a readable ONNX model" in one_error_line(capsys)
    (tmp_path / "text.mindir").write_text("not a model")
    assert main(argv(data, tmp_path / "text.mindir")) == 2
    assert "text.mindir: not a readable MINDIR file" in one_error_line(capsys)
    assert main(argv(data, tmp_path / "weights.ckpt")) == 2
    assert "weights.ckpt: not a model file (expected .onnx or .mindir)" in one_error_line(capsys)
    assert main(argv(data, exported["onnx"], "--image_resize", "40")) == 2
    assert f"takes 3x{IMAGE_SIZE}x{IMAGE_SIZE} images, got 3x40x40" in one_error_line(capsys)
    assert main(argv(data, exported["mindir"], "--num_classes", "5")) == 2
    assert "gives 3 outputs per image but num_classes is 5" in one_error_line(capsys)


def test_num_threads_sets_the_onnx_sessions_threads(exported, monkeypatch):
    """validate.py's num_threads reaches onnxruntime (0 leaves its default)."""
    from types import SimpleNamespace

    import onnxruntime

    from mindcv.engine import validation

    threads = []
    session = onnxruntime.InferenceSession

    def spy(path, options, **kwargs):
        threads.append(options.intra_op_num_threads)
        return session(path, options, **kwargs)

    monkeypatch.setattr(onnxruntime, "InferenceSession", spy)
    for requested in (1, 0):
        cfg = SimpleNamespace(options={"model_file": exported["onnx"]}, model=SimpleNamespace(num_classes=3, in_channels=3),
                              eval=SimpleNamespace(image_resize=IMAGE_SIZE), system=SimpleNamespace(num_threads=requested))
        assert validation._open_model_file(cfg).batch_size == ONNX_BATCH
    assert threads == [1, 0]
