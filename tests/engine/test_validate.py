import csv
import json
import os
import socket
import subprocess
from pathlib import Path

import numpy as np
import pytest
from evalhelpers import (
    CLASS_COUNTS,
    MODEL,
    REPO,
    make_checkpoint,
    mean_cross_entropy,
    reference_logits,
    run_script,
    script_main,
    use_cpu_pynative,
    write_folder,
)
from PIL import Image

from mindcv import create_model
from mindcv.engine.results import MAX_CONFUSION_CLASSES, RESULT_FIELDS, plot_confusion_matrix
from mindcv.errors import CheckpointError

CLASSES = sorted(CLASS_COUNTS)
main = script_main("validate.py")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    """The folder, a 3-class checkpoint with an EMA copy, and the expected predictions."""
    use_cpu_pynative()  # this fixture runs before the per-test one of conftest.py
    root = tmp_path_factory.mktemp("validate")
    written = write_folder(root / "data")
    files = [file for file, _ in written]
    labels = np.array([CLASSES.index(name) for _, name in written])
    checkpoint = make_checkpoint(root / "net3.ckpt", 3, files, seed=2, ema_shift=1)
    logits = reference_logits(checkpoint, 3, files)
    return {"root": root, "data": root / "data", "ckpt": checkpoint, "files": files, "labels": labels, "logits": logits}


def validate_argv(data_dir: Path, checkpoint: Path, *extra: str, num_classes: int = 3) -> list:
    return [
        "--data_dir", str(data_dir), "--ckpt_path", str(checkpoint), "--model", MODEL, "--num_classes", str(num_classes),
        "--image_resize", "32", "--num_parallel_workers", "1", "--device_target", "CPU", "--mode", "1", *extra,
    ]


def expected_counts(logits: np.ndarray, labels: np.ndarray, num_classes: int) -> dict:
    predicted = logits.argmax(axis=1)
    top5 = np.argsort(-logits, axis=1)[:, :5]
    matrix = np.zeros((num_classes, num_classes), int)
    np.add.at(matrix, (labels, predicted), 1)
    return {
        "count": len(labels),
        "correct_top1": int((predicted == labels).sum()),
        "correct_top5": int((top5 == labels[:, None]).any(axis=1).sum()),
        "per_class_correct": [int(((predicted == labels) & (labels == c)).sum()) for c in range(num_classes)],
        "loss": mean_cross_entropy(logits, labels),
        "confusion_matrix": matrix.tolist(),
    }


def test_the_reference_predictions_are_informative(setup):
    # guards the tests below: a network with one answer for everything, or always right or wrong, would test little
    predicted = setup["logits"].argmax(axis=1)
    assert len(set(predicted)) > 1
    assert 0 < (predicted == setup["labels"]).sum() < len(predicted)


def test_counts_are_exact_with_any_batch_size(setup, tmp_path):
    expected = expected_counts(setup["logits"], setup["labels"], 3)
    results = []
    for batch_size in ("7", "3"):  # 3 leaves a last batch of one image, which must count
        out = tmp_path / f"bs{batch_size}.json"
        assert main(validate_argv(setup["data"], setup["ckpt"], "--batch_size", batch_size, "--results_file", str(out))) == 0
        results.append(json.loads(out.read_text()))
    for result, batch_size in zip(results, (7, 3)):
        assert result["batch_size"] == batch_size
        assert (result["count"], result["correct_top1"], result["correct_top5"]) == (
            expected["count"], expected["correct_top1"], expected["correct_top5"]
        )
        assert result["top1"] == expected["correct_top1"] / 7
        assert result["loss"] == pytest.approx(expected["loss"], rel=1e-3)
    varying = {"date", "batch_size", "images_per_second", "loss"}
    assert {k: v for k, v in results[0].items() if k not in varying} == {k: v for k, v in results[1].items() if k not in varying}
    assert set(RESULT_FIELDS) == set(results[0])
    assert results[0]["model"] == MODEL and results[0]["checkpoint"] == str(setup["ckpt"])
    assert (results[0]["dataset"], results[0]["split"], results[0]["processes"]) == ("imagenet", "val", 1)


def test_val_batch_size_wins_over_batch_size(setup, tmp_path):
    out = tmp_path / "r.json"
    main(validate_argv(setup["data"], setup["ckpt"], "--batch_size", "7", "--val_batch_size", "2", "--results_file", str(out)))
    result = json.loads(out.read_text())
    assert result["batch_size"] == 2 and result["count"] == 7
    assert result["correct_top1"] == expected_counts(setup["logits"], setup["labels"], 3)["correct_top1"]


def test_csv_results_and_per_class(setup, tmp_path, capsys):
    expected = expected_counts(setup["logits"], setup["labels"], 3)
    out = tmp_path / "results.csv"
    argv = validate_argv(setup["data"], setup["ckpt"], "--batch_size", "7", "--results_file", str(out), "--per_class", "True")
    assert main(argv) == 0
    printed = capsys.readouterr().out
    assert f"({expected['correct_top1']}/7)" in printed
    for index, name in enumerate(CLASSES):
        line = next(line for line in printed.splitlines() if line.split()[:2] == [str(index), name])
        assert line.split()[2:4] == [str(expected["per_class_correct"][index]), str(CLASS_COUNTS[name])]
    assert main(argv) == 0  # a second run appends a row
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and list(rows[0]) == list(RESULT_FIELDS)
    assert rows[0]["correct_top1"] == str(expected["correct_top1"]) and rows[0]["count"] == "7"
    assert float(rows[0]["top1"]) == pytest.approx(expected["correct_top1"] / 7)
    with open(tmp_path / "results_per_class.csv", newline="") as f:
        per_class = list(csv.DictReader(f))
    assert [(r["index"], r["name"], r["correct"], r["count"]) for r in per_class[:3]] == [
        (str(i), name, str(expected["per_class_correct"][i]), str(CLASS_COUNTS[name])) for i, name in enumerate(CLASSES)
    ]
    assert len(per_class) == 6


def test_confusion_matrix_png_and_json(setup, tmp_path):
    expected = expected_counts(setup["logits"], setup["labels"], 3)
    png, out = tmp_path / "cm.png", tmp_path / "r.json"
    argv = validate_argv(setup["data"], setup["ckpt"], "--batch_size", "3", "--confusion_matrix", str(png), "--results_file", str(out))
    assert main(argv) == 0
    assert json.loads(out.read_text())["confusion_matrix"] == expected["confusion_matrix"]
    with Image.open(png) as image:
        image.verify()
    with Image.open(png) as image:
        assert image.format == "PNG" and min(image.size) > 200


@pytest.mark.parametrize("num_classes", [3, 6])
def test_confusion_matrix_figure_shows_row_shares_counts_and_names(num_classes):
    names = [f"class{i}" for i in range(num_classes)]
    matrix = np.eye(num_classes, dtype=int) * 5
    matrix[0, 1] = 15  # class 0: 5 right, 15 taken for class 1
    figure = plot_confusion_matrix(matrix, names, "title")
    axis = figure.axes[0]
    shares = np.asarray(axis.images[0].get_array())
    np.testing.assert_allclose(shares[0, :2], [0.25, 0.75])
    np.testing.assert_allclose(np.diag(shares)[1:], 1.0)
    assert sorted(t.get_text() for t in axis.texts) == sorted(["15"] + ["5"] * num_classes)
    assert [t.get_text() for t in axis.get_yticklabels()] == [f"{i} class{i}" for i in range(num_classes)]
    assert axis.get_title() == "title" and axis.get_xlabel() == "predicted class"


def test_confusion_matrix_refuses_many_classes_before_running(setup, tmp_path, capsys):
    many = MAX_CONFUSION_CLASSES + 1
    argv = validate_argv(setup["data"], setup["ckpt"], "--confusion_matrix", str(tmp_path / "cm.png"), num_classes=many)
    assert main(argv) == 2
    assert f"{many} classes" in capsys.readouterr().err
    assert not (tmp_path / "cm.png").exists()


def test_bad_results_file_name_fails_first(setup, tmp_path, capsys):
    assert main(validate_argv(setup["data"], setup["ckpt"], "--results_file", str(tmp_path / "r.txt"))) == 2
    assert "results_file" in capsys.readouterr().err


def test_mismatched_head_is_an_error_naming_file_and_counts(setup, capsys):
    assert main(validate_argv(setup["data"], setup["ckpt"], num_classes=5)) == 2
    err = capsys.readouterr().err
    assert str(setup["ckpt"]) in err and "3 classes" in err and "has 5" in err and "num_classes" in err
    with pytest.raises(CheckpointError, match="num_classes mismatch"):
        create_model(MODEL, num_classes=5, checkpoint_path=setup["ckpt"], strict_head=True)
    # without strict_head, a head of another size stays the fine-tuning case
    assert create_model(MODEL, num_classes=5, checkpoint_path=setup["ckpt"]).classifier[1].weight.shape[0] == 5


def test_more_folder_classes_than_num_classes_is_an_error(setup, capsys):
    assert main(validate_argv(setup["data"], setup["ckpt"], num_classes=2)) == 2
    assert "has 3 classes but num_classes is 2" in capsys.readouterr().err


def test_ema_weights(setup, tmp_path, capsys):
    ema_logits = reference_logits(setup["ckpt"], 3, setup["files"], ema=True)
    assert not np.allclose(ema_logits, setup["logits"])
    out = tmp_path / "r.json"
    assert main(validate_argv(setup["data"], setup["ckpt"], "--ema", "True", "--results_file", str(out))) == 0
    result = json.loads(out.read_text())
    assert result["ema"] is True
    assert result["correct_top1"] == expected_counts(ema_logits, setup["labels"], 3)["correct_top1"]
    plain = make_checkpoint(tmp_path / "plain.ckpt", 3, setup["files"])
    assert main(validate_argv(setup["data"], plain, "--ema", "True")) == 2
    assert "no EMA weights" in capsys.readouterr().err


def test_class_map_keeps_the_model_indices(setup, tmp_path):
    class_map = tmp_path / "classes.txt"
    order = ["zebra", "ant", "yak", "bee", "cat", "owl", "elk"]  # the folders' classes land on indices 1, 3 and 4
    class_map.write_text("\n".join(order) + "\n")
    checkpoint = make_checkpoint(tmp_path / "net7.ckpt", 7, setup["files"], seed=1)
    logits = reference_logits(checkpoint, 7, setup["files"])
    labels = np.array([order.index(CLASSES[label]) for label in setup["labels"]])
    expected = expected_counts(logits, labels, 7)
    assert expected["correct_top5"] < 7  # with 7 classes, top-5 is not trivially every image
    out = tmp_path / "r.json"
    argv = validate_argv(setup["data"], checkpoint, "--class_map", str(class_map), "--per_class", "True", "--results_file", str(out), num_classes=7)
    assert main(argv) == 0
    result = json.loads(out.read_text())
    assert (result["correct_top1"], result["correct_top5"], result["count"]) == (expected["correct_top1"], expected["correct_top5"], 7)
    assert [(row["index"], row["name"], row["correct"], row["count"]) for row in result["per_class"]] == [
        (order.index(name), name, expected["per_class_correct"][order.index(name)], CLASS_COUNTS[name]) for name in CLASSES
    ]


def test_cli_in_a_subprocess_graph_mode(setup, tmp_path):
    expected = expected_counts(setup["logits"], setup["labels"], 3)
    out = tmp_path / "r.json"
    argv = validate_argv(setup["data"], setup["ckpt"], "--batch_size", "7", "--results_file", str(out))
    argv[argv.index("--mode") + 1] = "0"
    run = run_script("validate.py", *argv)
    assert run.returncode == 0, run.stderr
    assert f"top-1 {expected['correct_top1'] / 7:.2%} ({expected['correct_top1']}/7)" in run.stdout
    assert json.loads(out.read_text())["correct_top1"] == expected["correct_top1"]
    bad = run_script("validate.py", "--batch_sise", "3")
    assert bad.returncode == 2 and "did you mean 'batch_size'" in bad.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_distributed_validation_under_msrun(setup, tmp_path):
    """Two processes read disjoint shards (4 + 3 images); the summed counts equal one process's."""
    expected = expected_counts(setup["logits"], setup["labels"], 3)
    out = tmp_path / "r.json"
    argv = validate_argv(setup["data"], setup["ckpt"], "--batch_size", "3", "--results_file", str(out), "--per_class", "True", "--distribute", "True")
    command = [
        "msrun", "--worker_num=2", "--local_worker_num=2", f"--master_port={_free_port()}", "--join=True",
        f"--log_dir={tmp_path / 'logs'}", str(REPO / "validate.py"), *argv,
    ]
    run = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=tmp_path, env={**os.environ, "GLOG_v": "3"})
    assert run.returncode == 0, (tmp_path / "logs" / "worker_0.log").read_text()[-3000:]
    result = json.loads(out.read_text())
    assert result["processes"] == 2 and result["count"] == 7
    assert (result["correct_top1"], result["correct_top5"]) == (expected["correct_top1"], expected["correct_top5"])
    assert [row["correct"] for row in result["per_class"]] == expected["per_class_correct"]
    rank0 = (tmp_path / "logs" / "worker_0.log").read_text()
    rank1 = (tmp_path / "logs" / "worker_1.log").read_text()
    assert "top-1" in rank0 and "top-1" not in rank1  # only rank 0 reports
