"""num_threads fixes the result: the same graph-mode run on 1 and on 2 cores ends with the same weights
when the thread count is the same, and the count is recorded in checkpoints and kept on resume."""
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import final_checksums, train_args

from mindcv.config import parse_config
from mindcv.engine import threads

REPO = Path(__file__).resolve().parents[2]
CHECKPOINT = "mobilenet_v2_035-1_4.ckpt"  # 32 images in batches of 8


def _train_on(cores: str, num_threads: int, data: Path, save: Path) -> str:
    """One graph-mode epoch in a process that may run only on `cores`; its final checksum."""
    args = train_args(data, save, "--mode", "0", "--epoch_size", "1", "--num_threads", str(num_threads))
    command = ["taskset", "-c", cores, sys.executable, str(REPO / "train.py"), *args]
    done = subprocess.run(command, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return final_checksums(save)[0][1]


@pytest.fixture(scope="module")
def runs(image_folder, tmp_path_factory) -> dict:
    assert len(os.sched_getaffinity(0)) >= 2, "these tests need 2 cores"
    root = tmp_path_factory.mktemp("threads")
    cases = {"2 threads on core 0": ("0", 2), "2 threads on cores 0,1": ("0,1", 2), "1 thread on cores 0,1": ("0,1", 1)}
    return {name: (_train_on(cores, count, image_folder, root / name.replace(" ", "_")), root / name.replace(" ", "_"))
            for name, (cores, count) in cases.items()}


def test_same_thread_count_same_weights_on_one_or_two_cores(runs):
    assert runs["2 threads on core 0"][0] == runs["2 threads on cores 0,1"][0]
    # The count itself matters (oneDNN sums convolution weight gradients in one part per thread):
    # the test would not notice a count that is ignored.
    assert runs["1 thread on cores 0,1"][0] != runs["2 threads on cores 0,1"][0]
    log = (runs["2 threads on core 0"][1] / "train.log").read_text()
    assert "num_threads 2: this process may run on only 1 core(s) (0)" in log
    assert "2 intra-op thread(s) on core(s) 0,1" in (runs["2 threads on cores 0,1"][1] / "train.log").read_text()
    assert "1 intra-op thread(s) on core(s) 0 " in (runs["1 thread on cores 0,1"][1] / "train.log").read_text()


def test_checkpoints_record_the_count_and_resume_keeps_it(runs, image_folder, tmp_path, monkeypatch, caplog):
    one_thread = runs["1 thread on cores 0,1"][1] / CHECKPOINT
    assert threads.recorded_thread_count(one_thread) == 1
    assert threads.recorded_thread_count(runs["2 threads on core 0"][1] / CHECKPOINT) == 2
    assert "num_threads: 2" in (runs["2 threads on core 0"][1] / "config.yaml").read_text()
    applied = []
    monkeypatch.setattr(threads, "configure_threads", lambda count: applied.append(count) or count)
    logger = logging.getLogger(threads.__name__)
    logger.addHandler(caplog.handler)
    try:
        resumed = threads.pin_run_threads(parse_config(train_args(image_folder, tmp_path)), one_thread)
        other = threads.pin_run_threads(parse_config(train_args(image_folder, tmp_path, "--num_threads", "2")), one_thread)
    finally:
        logger.removeHandler(caplog.handler)
    assert applied == [1, 2] and resumed.system.num_threads == 1 and other.system.num_threads == 2
    assert f"num_threads is 2 but {one_thread} was trained with 1" in caplog.text
