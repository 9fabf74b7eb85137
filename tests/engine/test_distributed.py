"""Data-parallel training on the CPU with 2 processes, under msrun and under mpirun."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from engine_helpers import final_checksums, free_port, train_args

from mindcv.engine import init_distributed
from mindcv.errors import MindCVError

REPO = Path(__file__).resolve().parents[2]


def _assert_one_consistent_run(save_dir: Path) -> None:
    sums = final_checksums(save_dir)
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


@pytest.fixture(scope="module")
def msrun_run(image_folder, tmp_path_factory) -> Path:
    """The save folder of a 2-worker msrun run (msrun does not bind the workers to cores)."""
    workdir = tmp_path_factory.mktemp("msrun")
    save = workdir / "ckpt"
    command = [
        "msrun", "--worker_num=2", "--local_worker_num=2", f"--master_port={free_port()}", "--join=True",
        f"--log_dir={workdir / 'msrun_logs'}", *_distributed_args(image_folder, save),  # msrun adds `python`
    ]
    _run(command, workdir, {**os.environ, "GLOG_v": "3"})
    return save


@pytest.fixture(scope="module")
def mpirun_run(image_folder, tmp_path_factory) -> Path:
    """The save folder of the same run under mpirun (which binds each rank to a core)."""
    workdir = tmp_path_factory.mktemp("mpirun")
    save = workdir / "ckpt"
    port = free_port()
    command = [
        "mpirun", "-n", "2", "--allow-run-as-root", "--oversubscribe", "-x", "GLOG_v", "-x", f"MS_SCHED_PORT={port}",
        sys.executable, *_distributed_args(image_folder, save),
    ]
    _run(command, workdir, {**os.environ, "GLOG_v": "3"})
    # Rank 0 started the scheduler and stops it as it leaves: nothing of the job outlives mpirun.
    assert _processes_with_env(f"MS_SCHED_PORT={port}") == []
    return save


def _processes_with_env(entry: str) -> list:
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if entry.encode() in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:  # gone meanwhile, or not ours to read
            pass
    return found


def test_msrun_two_workers_end_identical(msrun_run):
    _assert_one_consistent_run(msrun_run)


def test_mpirun_two_processes_end_identical(mpirun_run):
    _assert_one_consistent_run(mpirun_run)


def test_msrun_and_mpirun_end_with_the_same_weights(msrun_run, mpirun_run):
    # Each rank pins its thread count to its share of the cores (1 of 2 here), whichever launcher bound it.
    assert final_checksums(msrun_run)[0] == final_checksums(mpirun_run)[0]
    for save in (msrun_run, mpirun_run):
        assert "1 intra-op thread(s)" in (save / "train.log").read_text()


def test_mpirun_over_several_hosts_needs_the_scheduler_address(monkeypatch):
    """Without MS_SCHED_HOST every host's local rank 0 would start a scheduler of its own on loopback."""
    for name, value in {"OMPI_COMM_WORLD_SIZE": "16", "OMPI_COMM_WORLD_LOCAL_SIZE": "8", "OMPI_COMM_WORLD_RANK": "8",
                        "OMPI_COMM_WORLD_LOCAL_RANK": "0"}.items():
        monkeypatch.setenv(name, value)
    for name in ("MS_SCHED_HOST", "MS_ROLE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(MindCVError, match=r"16 processes on several hosts \(8 on this one\).*mpirun -x MS_SCHED_HOST=ADDRESS"):
        init_distributed(True)
