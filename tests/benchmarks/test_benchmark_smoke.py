"""benchmark.py --quick end to end: one worker process, the CSV and the summary it writes."""
import csv
import subprocess
import sys
from pathlib import Path

import pytest

from benchmarks import report
from benchmarks.runner import cpu_description
from benchmarks.suites import CSV_COLUMNS

REPO = Path(__file__).resolve().parents[2]


def test_quick_train_suite_writes_positive_figures(tmp_path):
    command = [sys.executable, "benchmark.py", "--suite", "train", "--quick", "--no-peers", "--models", "mobilenet_v2_035",
               "--resolutions", "32", "--threads", "1", "--num_classes", "10", "--out", str(tmp_path)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    with open(tmp_path / "train.csv") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert tuple(reader.fieldnames) == CSV_COLUMNS
    assert [(r["suite"], r["model"], r["batch_size"], r["resolution"], r["impl"]) for r in rows] == [
        ("train", "mobilenet_v2_035", "2", "32", "mindcv"),
        ("train", "mobilenet_v2_035", "2", "32", "mindcv-msops"),  # the C++ depthwise kernel switched off
    ]
    for row in rows:
        assert row["error"] == "" and row["metric"] == "images_per_s"
        assert float(row["value"]) > 0 and float(row["median_step_ms"]) > 0 and float(row["peak_rss_mb"]) > 100
        assert int(row["steps"]) == 2 and float(row["load_1min_before"]) >= 0
        assert 0 < float(row["min_step_ms"]) <= float(row["median_step_ms"])
        assert row["threads"] == "1" and row["jit_level"] == "O0" and ";" in row["cpu"] and row["num_classes"] == "10"
    summary = (tmp_path / "summary.md").read_text()
    median, best = (float(rows[0][k]) for k in ("median_step_ms", "min_step_ms"))
    ours = f"{report._format(float(rows[0]['value']))} / {report._format(float(rows[0]['value']) * median / best)}"
    assert f"| train | mobilenet_v2_035 (10 classes) | 2 | 32 | images per s | {ours} |" in summary  # median / best
    assert f"- CPU: {cpu_description()} " in summary and "- Threads per process: 1 " in summary
    with open(tmp_path / "flops.csv") as f:
        gflops = list(csv.DictReader(f))
    assert [(r["impl"], r["threads"], r["num_classes"]) for r in gflops] == [("mindcv", "1", "10"), ("mindcv-msops", "1", "10")]
    assert float(gflops[0]["achieved_gflops"]) == pytest.approx(float(rows[0]["value"]) * float(gflops[0]["gflop_per_image"]), abs=0.01)
    assert "**GFLOP/s of the train step**" in summary and "= 1 core x" in summary
    assert f"| mobilenet_v2_035 (10 classes) | 2 | 32 | {gflops[0]['gflop_per_image']} |" in summary


def test_int8_infer_column_runs_the_quantized_onnx_export():
    """The infer suite's 'mindcv-onnx-int8' column: the BN-folded ONNX export, quantized, at its static batch."""
    import argparse

    import mindspore as ms

    from benchmarks import ours
    from benchmarks.runner import cpu_description
    from benchmarks.suites import IMPL_TITLES, INFER_IMPLS

    assert "mindcv-onnx-int8" in INFER_IMPLS and "int8" in IMPL_TITLES["mindcv-onnx-int8"]
    ms.set_device("CPU")
    args = argparse.Namespace(model="mobilenet_v2_035", num_classes=10, batch_size=2, resolution=32, onnx_threads=1)
    logits = ours.build_infer(args, "mindcv-onnx-int8")()
    assert logits.shape == (2, 10) and logits.dtype == "float32"
    assert cpu_description().count(";") == 1  # "<model name>; <vector extensions>", recorded with every row
