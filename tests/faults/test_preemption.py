"""SIGTERM / SIGINT: finish the step, save, log the resume command, exit; under msrun, one consistent checkpoint.

A SIGTERM'd single-process run resumed by the command it logs: test_kill_resume.py (the last kill point).
"""
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil

from fault_helpers import REPO, STEP_CHECKPOINT, TIMEOUT_S, environment, logged_steps, wait_until
from mindcv.checkpoint.manager import training_progress
from mindcv.engine.preemption import resume_command
from scenarios import PROCESS_SLOTS, STOP_DEADLINE_S

MSRUN_EXIT_S = 60
from tests.engine.engine_helpers import train_args


def test_a_second_signal_exits_at_once(second_signal):
    second_signal.result()


def test_resume_command_replaces_the_resume_options():
    save = Path("/runs/a b")
    command = ["python", "train.py", "-c", "x.yaml", "--ckpt_path", "w.ckpt", "--resume_opt", "--lr", "0.1", "--resume_opt=false"]
    assert resume_command(command, save) == "python train.py -c x.yaml --lr 0.1 --ckpt_path '/runs/a b' --resume_opt True"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _msrun(data: Path, save: Path, logs: Path, *extra: str) -> list:
    args = train_args(data, save, "--mode", "1", "--distribute", "True", "--batch_size", "4", "--log_interval", "1", *extra)
    return [
        "msrun", "--worker_num=2", "--local_worker_num=2", f"--master_port={_free_port()}", "--join=True",
        f"--log_dir={logs}", str(REPO / "train.py"), *args,
    ]


def _worker(launcher: subprocess.Popen, rank: int) -> psutil.Process:
    """The msrun worker of `rank` (msrun exports RANK_ID to each)."""
    for child in psutil.Process(launcher.pid).children():
        if child.environ().get("RANK_ID") == str(rank) and child.environ().get("MS_ROLE") == "MS_WORKER":
            return child
    raise AssertionError(f"no msrun worker with rank {rank}")


def _stop_lines(save: Path) -> dict:
    found = {}
    for log in save.glob("train*.log"):
        for rank, where in re.findall(r"\[rank (\d)\] WARNING stopped by SIGTERM (after epoch \d+ step \d+/\d+)", log.read_text()):
            found[int(rank)] = where
    return found


def _checksums(save: Path) -> dict:
    found = {}
    for log in save.glob("train*.log"):
        for rank, digest in re.findall(r"final parameter checksum \(rank (\d) of 2\): (\w+)", log.read_text()):
            found[int(rank)] = digest
    return found


def test_sigterm_to_one_msrun_worker_stops_both_at_one_step_with_one_checkpoint(resume_data, tmp_path):
    """Rank 1 alone gets the signal; the ranks agree on the step (an AllReduce of the flag every step), rank 0
    writes the checkpoint, msrun ends within the deadline, and `msrun ... --ckpt_path --resume_opt True` finishes
    the run with identical ranks."""
    save = tmp_path / "ckpt"
    env = environment()
    with PROCESS_SLOTS, PROCESS_SLOTS:
        launcher = subprocess.Popen(_msrun(resume_data, save, tmp_path / "logs"), cwd=tmp_path, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_until(lambda: (1, 2) in logged_steps(save / "train_rank1.log"), launcher, "rank 1's epoch 1 step 2")
            _worker(launcher, 1).send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            wait_until(lambda: 0 in _stop_lines(save), launcher, "rank 0's stop line")
            saved = time.monotonic()
            launcher.wait(timeout=TIMEOUT_S)
            ended = time.monotonic()
        finally:
            if launcher.poll() is None:
                launcher.kill()
                launcher.wait()
    # The step in progress and the save are bounded as for one process. The launcher's exit after them is
    # MindSpore's cluster shutdown, whose timeouts are msrun's (measured up to 35 s on a loaded 2-core machine).
    assert saved - signalled < STOP_DEADLINE_S and ended - saved < MSRUN_EXIT_S, (saved - signalled, ended - saved)
    stops = _stop_lines(save)
    assert sorted(stops) == [0, 1] and stops[0] == stops[1], stops
    done = training_progress(save / STEP_CHECKPOINT)
    assert stops[0] == f"after epoch {done[0] + 1} step {done[1]}/4", (stops, done)
    assert sorted(p.name for p in save.glob("*.ckpt")) == [STEP_CHECKPOINT]

    with PROCESS_SLOTS, PROCESS_SLOTS:
        resumed = subprocess.run(_msrun(resume_data, save, tmp_path / "logs_resumed", "--ckpt_path", str(save), "--resume_opt", "True"),
                                 cwd=tmp_path, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    sums = _checksums(save)
    assert sorted(sums) == [0, 1] and sums[0] == sums[1], sums
    log = (save / "train.log").read_text()
    assert f"resumed from {save / STEP_CHECKPOINT} in epoch {done[0] + 1} after step {done[1]}/4" in log
