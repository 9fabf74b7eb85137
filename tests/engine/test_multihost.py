"""Data-parallel training over two hosts (two msrun launchers, node_rank 0 and 1; the second host is a
network namespace), and a rank that dies: the others stop within seconds naming it, and the documented
resume command ends where the uninterrupted run ends."""
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import List

import pytest
import yaml
from engine_helpers import final_checksums, free_port, train_args
from netns import TwoHosts, processes_of, two_hosts, worker_pid

from mindcv.data import dataset_files
from mindcv.data.sharding import epoch_plan

REPO = Path(__file__).resolve().parents[2]
EPOCHS = 3
STEPS_PER_EPOCH = 2  # 32 images, 2 ranks, batches of 8
LAUNCH_TIMEOUT_S = 300


@pytest.fixture(scope="module")
def hosts() -> TwoHosts:
    with two_hosts() as pair:
        yield pair


@dataclass
class Job:
    """One training job: a msrun launcher per host, writing to one save folder."""

    launchers: List[subprocess.Popen]
    workdir: Path
    save_dir: Path

    def wait(self) -> List[int]:
        return [launcher.wait(timeout=LAUNCH_TIMEOUT_S) for launcher in self.launchers]

    def output(self, host: int) -> str:
        return (self.workdir / f"launcher{host}.out").read_text()

    def worker_log(self, host: int) -> str:
        return (self.workdir / f"logs{host}" / f"worker_{host}.log").read_text()

    def kill_all(self) -> None:
        """Whatever the test left running: the launchers and the scheduler and workers they started."""
        for pid in processes_of(str(self.save_dir)):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for launcher in self.launchers:
            launcher.wait()


def _start(hosts: TwoHosts, data: Path, workdir: Path, *extra: str) -> Job:
    save = workdir / "ckpt"
    args = train_args(data, save, "--mode", "1", "--distribute", "True", "--epoch_size", str(EPOCHS), "--log_interval", "1", *extra)
    port = free_port()
    launchers = []
    for host in (0, 1):
        msrun = [
            "msrun", "--worker_num=2", "--local_worker_num=1", f"--node_rank={host}", f"--master_addr={hosts.first}",
            f"--master_port={port}", "--join=True", f"--log_dir={workdir / f'logs{host}'}", str(REPO / "train.py"), *args,
        ]
        with open(workdir / f"launcher{host}.out", "w") as out:
            env = {**os.environ, "GLOG_v": "3", "PYTHONPATH": str(REPO)}
            launchers.append(subprocess.Popen(hosts.command(host, msrun), stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir))
    return Job(launchers, workdir, save)


@pytest.fixture(scope="module")
def uninterrupted(hosts, image_folder, tmp_path_factory) -> Job:
    job = _start(hosts, image_folder, tmp_path_factory.mktemp("two_hosts"))
    try:
        codes = job.wait()
    finally:
        job.kill_all()
    assert codes == [0, 0], job.output(0)[-3000:] + job.output(1)[-3000:]
    return job


def _shard_files(data: Path, seed: int, shard: int, shards: int) -> List[str]:
    """The training images of `shard` in the first epoch: the epoch plan the trainer reads (mindcv.data.sharding)."""
    files = dataset_files("imagenet", str(data), "train", None)
    plan = epoch_plan(len(files), seed, 0, True, shards, shard)
    return [files[row].name for row in plan.rows]


def test_two_hosts_train_one_model_on_disjoint_shards(uninterrupted, image_folder):
    save = uninterrupted.save_dir
    sums = final_checksums(save)
    assert sorted(sums) == [0, 1] and sums[0] == sums[1] and sums[0][0] == 2, sums
    # The scheduler runs on host A only; each launcher started its own rank.
    assert "Start scheduler process" in uninterrupted.output(0) and "Start scheduler process" not in uninterrupted.output(1)
    assert "rank id:1" in uninterrupted.output(1)
    # One set of checkpoints (rank 0 writes), one log per rank.
    assert sorted(p.name for p in save.glob("*.ckpt")) == [f"mobilenet_v2_035-{e}_{STEPS_PER_EPOCH}.ckpt" for e in range(1, EPOCHS + 1)]
    assert sorted(p.name for p in save.glob("*.log")) == ["train.log", "train_rank1.log"]
    # Each rank read its own shard; together the shards of an epoch hold every image once.
    logs = {0: (save / "train.log").read_text(), 1: (save / "train_rank1.log").read_text()}
    for rank, log in logs.items():
        assert f"rank {rank} reads training shard {rank} of 2: 16 images per epoch" in log
    seed = yaml.safe_load((save / "config.yaml").read_text())["seed"]
    shards = [_shard_files(image_folder, seed, rank, 2) for rank in (0, 1)]
    every_image = sorted(p.name for p in (image_folder / "train").rglob("*.png"))
    assert not set(shards[0]) & set(shards[1])
    assert sorted(shards[0] + shards[1]) == every_image  # 32 images split evenly: nothing padded


def test_a_killed_rank_stops_the_job_within_seconds_and_resume_ends_like_the_uninterrupted_run(hosts, uninterrupted, image_folder, tmp_path):
    job = _start(hosts, image_folder, tmp_path)
    try:
        # Kill rank 1 (host B) in the middle of epoch 2, after the epoch-1 checkpoint.
        deadline = time.monotonic() + LAUNCH_TIMEOUT_S
        rank1_log = job.save_dir / "train_rank1.log"
        while "epoch 2 step 1/" not in (rank1_log.read_text() if rank1_log.is_file() else ""):
            assert time.monotonic() < deadline and all(p.poll() is None for p in job.launchers), job.output(0)[-3000:]
            time.sleep(0.2)
        victim = worker_pid(str(job.save_dir), 1)
        assert victim is not None
        os.kill(victim, signal.SIGKILL)
        killed = time.monotonic()
        codes = job.wait()
        stopped_after = time.monotonic() - killed
    finally:
        job.kill_all()
    assert codes[0] != 0 and codes[1] != 0
    assert stopped_after < 120, f"the launchers took {stopped_after:.0f} s to stop"
    # Rank 0 noticed within seconds, named the lost rank and said how to resume. (What msrun itself prints
    # races: it names rank 1 as timed out, or rank 0 as failed when rank 0's own exit reaches it first.)
    expected = f"error: rank 0: lost rank 1 ({hosts.second}): the process stopped or its host or network failed"
    assert expected in job.worker_log(0)
    assert f"--ckpt_path {job.save_dir} --resume_opt True" in job.worker_log(0)
    assert sorted(p.name for p in job.save_dir.glob("*.ckpt")) == [f"mobilenet_v2_035-1_{STEPS_PER_EPOCH}.ckpt"]

    # The documented resume command: the same launch commands plus --ckpt_path <ckpt_save_dir> --resume_opt True.
    resumed = _start(hosts, image_folder, tmp_path, "--ckpt_path", str(job.save_dir), "--resume_opt", "True")
    try:
        codes = resumed.wait()
    finally:
        resumed.kill_all()
    assert codes == [0, 0], resumed.output(0)[-3000:] + resumed.output(1)[-3000:]
    assert final_checksums(resumed.save_dir)[0] == final_checksums(uninterrupted.save_dir)[0]


def test_mpirun_with_a_hostfile_trains_like_two_msrun_launchers(hosts, uninterrupted, image_folder, tmp_path):
    """The README's hostfile command (ssh replaced by a shell into the namespace): train.py starts the
    scheduler on MS_SCHED_HOST's host, and the run ends with the weights of the msrun run."""
    save = tmp_path / "ckpt"
    (tmp_path / "hosts").write_text(f"{hosts.first} slots=1\n{hosts.second} slots=1\n")
    command = [
        # --bind-to none: both "hosts" share this machine's cores, and each would bind its rank to core 0.
        "mpirun", "-n", "2", "--hostfile", str(tmp_path / "hosts"), "--allow-run-as-root", "--bind-to", "none",
        "--mca", "plm_rsh_agent", str(hosts.write_remote_shell(tmp_path / "remote_shell")),
        "-x", "GLOG_v=3", "-x", f"PYTHONPATH={REPO}", "-x", f"MS_SCHED_HOST={hosts.first}", "-x", f"MS_SCHED_PORT={free_port()}",
        sys.executable, str(REPO / "train.py"),
        *train_args(image_folder, save, "--mode", "1", "--distribute", "True", "--epoch_size", str(EPOCHS), "--log_interval", "1"),
    ]
    try:
        done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=LAUNCH_TIMEOUT_S)
    finally:
        for pid in processes_of(str(save)):
            os.kill(pid, signal.SIGKILL)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    sums = final_checksums(save)
    assert sorted(sums) == [0, 1] and sums[0] == sums[1] == final_checksums(uninterrupted.save_dir)[0]
