"""Data-parallel training on the CPU with 2 processes, under msrun and under mpirun."""
import os
import re
import socket
import subprocess
import sys
from pathlib import Path

from engine_helpers import train_args

REPO = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _checksums(save_dir: Path) -> dict:
    found = {}
    for log in save_dir.glob("train*.log"):
        for rank, world, digest in re.findall(r"final parameter checksum \(rank (\d) of (\d)\): (\w+)", log.read_text()):
            found[int(rank)] = (int(world), digest)
    return found


def _assert_one_consistent_run(save_dir: Path) -> None:
    sums = _checksums(save_dir)
    assert sorted(sums) == [0, 1], sums
    assert sums[0] == sums[1] and sums[0][0] == 2
    # Rank 0 alone writes checkpoints and the summary; each rank keeps its log.
    assert sorted(p.name for p in save_dir.iterdir() if p.suffix == ".ckpt") == [
        "mobilenet_v2_035-1_2.ckpt", "mobilenet_v2_035-2_2.ckpt"
    ]
    assert sorted(p.name for p in save_dir.glob("*.log")) == ["train.log", "train_rank1.log"]
    assert "2 steps of 8 x 2 images per epoch, on 2 process(es)" in (save_dir / "train.log").read_text()


def _distributed_args(image_folder: Path, save_dir: Path) -> list:
    return [str(REPO / "train.py"), *train_args(image_folder, save_dir, "--mode", "1", "--warmup_epochs", "1", "--distribute", "True")]


def _run(command: list, cwd: Path, env: dict) -> None:
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_msrun_two_workers_end_identical(image_folder, tmp_path):
    save = tmp_path / "ckpt"
    command = [
        "msrun", "--worker_num=2", "--local_worker_num=2", f"--master_port={_free_port()}", "--join=True",
        f"--log_dir={tmp_path / 'msrun_logs'}", *_distributed_args(image_folder, save),  # msrun adds `python`
    ]
    _run(command, tmp_path, {**os.environ, "GLOG_v": "3"})
    _assert_one_consistent_run(save)


def test_mpirun_two_processes_end_identical(image_folder, tmp_path):
    save = tmp_path / "ckpt"
    port = str(_free_port())
    command = [
        "mpirun", "-n", "2", "--allow-run-as-root", "--oversubscribe", "-x", "GLOG_v", "-x", f"MS_SCHED_PORT={port}",
        sys.executable, *_distributed_args(image_folder, save),
    ]
    _run(command, tmp_path, {**os.environ, "GLOG_v": "3"})
    _assert_one_consistent_run(save)
