"""The kill and stop scenarios: training processes interrupted at exact points, resumed, and compared.

Each function runs its processes one after another and asserts as it goes; conftest.py runs
them in background threads from the start of the session (they mostly wait for their
processes), each training process on a core of its own (CORES), and the tests wait for them.
"""
import json
import os
import queue
import random
import re
import shlex
import signal
import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Set

import psutil

from fault_helpers import (
    DRIVER, EPOCHS, REPO, RESUME_STEPS, STEP_CHECKPOINT, TIMEOUT_S, assert_same_weights, checkpoint_name, environment,
    logged_steps, on_cores, resume_args, run_args, start, summary_values, wait_until,
)
from mindcv.checkpoint.manager import INDEX_FILE, resume_checkpoint, training_progress
from tests.engine.engine_helpers import train_args



class _Cores:
    """Hands out this machine's cores, one per training process (measured on 2 cores: more processes than
    cores, or processes that share them, cost more CPU time in all and no less wall time)."""

    def __init__(self) -> None:
        self._free: "queue.Queue[int]" = queue.Queue()
        for core in sorted(os.sched_getaffinity(0)):
            self._free.put(core)

    @contextmanager
    def take(self, count: int = 1) -> Iterator[Set[int]]:
        cores = {self._free.get() for _ in range(count)}
        try:
            yield cores
        finally:
            for core in cores:
                self._free.put(core)


CORES = _Cores()
STOP_DEADLINE_S = 30


def reference(data: Path, workdir: Path, mode: int) -> Path:
    """The uninterrupted run; keeps a copy of every step checkpoint in <workdir>/steps. Returns its save dir."""
    save = workdir / "ckpt"
    with CORES.take() as cores:
        process = start(DRIVER, run_args(data, save, mode), workdir, "reference",
                        environment(MINDCV_FAULT_ARCHIVE=str(workdir / "steps")), cores)
        code = process.wait(timeout=TIMEOUT_S)
    assert code == 0, f"reference: exit code {code}\n" + (workdir / "reference.err").read_text()[-3000:]
    return save


def _indexed_epochs(save_dir: Path) -> list:
    index = save_dir / INDEX_FILE
    return [record["epoch"] for record in json.loads(index.read_text())] if index.is_file() else []


def _partial_files(save_dir: Path) -> list:
    return sorted(save_dir.glob(".*.tmp*"))


def _assert_same_states(archive: Path, reference_save: Path, steps: list, what: str) -> None:
    """The step checkpoints of these global steps were written and equal the reference's."""
    reference_steps = reference_save.parent / "steps"
    steps = [archive / f"step_{step}.ckpt" for step in steps]
    assert all(path.is_file() for path in steps), f"{what}: {sorted(p.name for p in archive.iterdir())} were written"
    for path in steps:  # in step order, so the first difference names the link that broke
        assert_same_weights(path, reference_steps / path.name)


def kill_chain(data: Path, workdir: Path, mode: int, reference_run) -> None:
    """Interrupt one run at each kill point in turn, each time resuming with the documented command.

    SIGKILL after the first step, in the middle of an epoch while writing the next step's checkpoint;
    after the last step of an epoch, while writing the epoch checkpoint (the resume has no step left
    in that epoch and must end it); at a random step of epoch 2 (an external kill -9, its seed
    printed). Then SIGTERM in the middle of epoch 3 of a resume without step checkpoints: the
    run must finish its step, write a resumable checkpoint, log the resume command and exit
    with 143 within STOP_DEADLINE_S; that exact command ends the run. Every step state written
    on the way, the final (and best) checkpoint and summary.csv equal the uninterrupted run's.
    (MindSpore's compile cache would make the graph-mode links cheaper, but it breaks the step
    after a resume (measured), so every link compiles.)
    """
    save, archive = workdir / "ckpt", workdir / "steps"
    seed = int(os.environ.get("MINDCV_FAULT_SEED") or random.randrange(10**6))
    kill_step = random.Random(seed).randint(1, RESUME_STEPS)
    print(f"mode {mode}: random kill in epoch 2 after step {kill_step} (MINDCV_FAULT_SEED={seed})")
    what = f"mode {mode}, MINDCV_FAULT_SEED={seed}"
    step_file = save / STEP_CHECKPOINT
    log = save / "train.log"

    def interrupted(name: str, fault: str = "", resume: bool = True, signal_at: tuple = (), signal_number=signal.SIGKILL,
                    extra: tuple = ()) -> float:
        """Run a link until it dies; return the seconds from an external signal to its exit."""
        args = resume_args(data, save, mode, *extra) if resume else run_args(data, save, mode)
        env = environment(MINDCV_FAULT_ARCHIVE=str(archive), MINDCV_FAULT=fault)
        with CORES.take() as cores:
            process = start(DRIVER, args, workdir, name, env, cores)
            if signal_at:
                try:
                    wait_until(lambda: signal_at in logged_steps(log), process, f"{name}: epoch/step {signal_at}")
                finally:
                    process.send_signal(signal_number)
            signalled = time.monotonic()
            code = process.wait(timeout=TIMEOUT_S)
        expected = -signal.SIGKILL if signal_number == signal.SIGKILL else 128 + signal_number
        assert code == expected, f"{what}, {name}: exit code {code}\n" + (workdir / f"{name}.err").read_text()[-3000:]
        return time.monotonic() - signalled

    # The first step done and saved, dies in the middle of epoch 1 while writing step 2's checkpoint.
    interrupted("first_step_then_in_step_save", "in_save:2", resume=False)
    assert training_progress(step_file) == (0, 1) and _indexed_epochs(save) == [] and _partial_files(save), what
    assert resume_checkpoint(save) == step_file

    # Saves steps 2 to 4, ends the epoch (validates in PyNative mode), dies writing the epoch checkpoint.
    interrupted("last_step_then_in_epoch_save", "in_save:4")
    assert not (save / checkpoint_name(1)).exists() and _indexed_epochs(save) == [] and _partial_files(save), what
    assert resume_checkpoint(save) == step_file and training_progress(step_file) == (0, 4), what

    interrupted("random_step", signal_at=(2, kill_step))
    assert _indexed_epochs(save)[0] == 1, what
    newest = resume_checkpoint(save)  # the kill may land before the step's checkpoint, or after epoch 2's
    assert newest in (save / checkpoint_name(1), save / checkpoint_name(2), step_file), what

    took = interrupted("sigterm", signal_at=(3, 2), signal_number=signal.SIGTERM, extra=("--ckpt_save_steps", "0"))
    assert took < STOP_DEADLINE_S, f"{what}: exited {took:.1f} s after SIGTERM"
    lines = [line for line in log.read_text().splitlines() if "stopped by SIGTERM" in line]
    assert len(lines) == 1, lines
    where, saved, command = lines[0].split("stopped by SIGTERM ")[1].split("; ")
    stopped_at = training_progress(step_file)
    assert stopped_at[0] == 2 and 2 <= stopped_at[1] < RESUME_STEPS, (what, lines[0])
    assert where == f"after epoch 3 step {stopped_at[1]}/{RESUME_STEPS}" and saved == f"saved {step_file}", lines[0]
    command = shlex.split(command.removeprefix("resume with: "))
    assert command[1] == str(REPO / "train.py") and command[-4:] == ["--ckpt_path", str(save), "--resume_opt", "True"]

    with CORES.take() as cores:
        done = subprocess.run(command, cwd=workdir, env=environment(), capture_output=True, text=True, timeout=TIMEOUT_S,
                              preexec_fn=on_cores(cores))
    assert done.returncode == 0, done.stderr[-3000:]
    text = log.read_text()
    assert f"resumed from {step_file} in epoch 1 after step 4/{RESUME_STEPS}" in text and f"resumed from {newest} " in text
    assert not _partial_files(save), "resumed runs remove half-written files"
    reference_save = reference_run.result()
    # Every step checkpoint written: after each step of epoch 1, of epoch 2 until the random kill, SIGTERM's in epoch 3.
    written = sorted(int(path.stem.split("_")[1]) for path in archive.glob("step_*.ckpt"))
    assert {*range(1, RESUME_STEPS + 1), 2 * RESUME_STEPS + stopped_at[1]} <= set(written), (what, written)
    _assert_same_states(archive, reference_save, written, what)
    final = checkpoint_name(EPOCHS)
    assert_same_weights(save / final, reference_save / final)
    if (reference_save / "best.ckpt").is_file():  # runs that validate
        assert_same_weights(save / "best.ckpt", reference_save / "best.ckpt")
    assert summary_values(save) == summary_values(reference_save), what
    assert _indexed_epochs(save) == list(range(1, EPOCHS + 1)) and not _partial_files(save), what


def second_signal_exits_at_once(data: Path, workdir: Path) -> None:
    """A second SIGINT, while the first step still compiles, ends the run at once (exit 130) without a checkpoint."""
    save = workdir / "ckpt"
    with CORES.take() as cores:
        process = start(REPO / "train.py", run_args(data, save, 0), workdir, "interrupted", cores=cores)
        try:
            log = save / "train.log"
            wait_until(lambda: log.is_file() and "training mobilenet" in log.read_text(), process, "the start of training")
        finally:
            process.send_signal(signal.SIGINT)
        time.sleep(1.5)  # copies of one signal within a second count once
        process.send_signal(signal.SIGINT)
        signalled = time.monotonic()
        code = process.wait(timeout=TIMEOUT_S)
        took = time.monotonic() - signalled
    assert code == 128 + signal.SIGINT and took < 5, (code, took, (workdir / "interrupted.err").read_text()[-2000:])
    assert "second SIGINT: exiting at once without a checkpoint" in (save / "train.log").read_text()
    assert not list(save.glob("*.ckpt")) and logged_steps(save / "train.log") == []


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


def _ended(process: psutil.Process) -> bool:
    """Exited (a zombie until msrun reaps it, which it does only at its own exit)."""
    try:
        return process.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


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


def sigterm_under_msrun(data: Path, workdir: Path) -> None:
    """Two msrun workers; rank 1 alone gets SIGTERM. The ranks agree on the step (an AllReduce of the flags
    every step), rank 0 writes the one checkpoint, the workers end within STOP_DEADLINE_S, and
    `msrun ... --ckpt_path --resume_opt True` finishes the run with identical ranks."""
    save = workdir / "ckpt"
    env = environment()
    with CORES.take(2) as cores:
        launcher = subprocess.Popen(_msrun(data, save, workdir / "logs"), cwd=workdir, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=on_cores(cores))
        try:
            wait_until(lambda: (1, 2) in logged_steps(save / "train_rank1.log"), launcher, "rank 1's epoch 1 step 2")
            workers = [_worker(launcher, rank) for rank in (0, 1)]
            workers[1].send_signal(signal.SIGTERM)
            signalled = time.monotonic()
            wait_until(lambda: all(_ended(worker) for worker in workers), launcher, "the workers' exit")
            took = time.monotonic() - signalled
        except BaseException:
            launcher.kill()
            launcher.wait()
            raise
    # msrun SIGKILLs the other workers once one exits non-zero, then waits for its scheduler, which
    # gives up on them after MindSpore's node timeout (about 30 s): the checkpoint is complete by then.
    launcher.wait(timeout=TIMEOUT_S)
    assert took < STOP_DEADLINE_S, f"the workers ended {took:.1f} s after the signal"
    stops = _stop_lines(save)
    assert sorted(stops) == [0, 1] and stops[0] == stops[1], stops
    done = training_progress(save / STEP_CHECKPOINT)
    assert stops[0] == f"after epoch {done[0] + 1} step {done[1]}/4", (stops, done)
    assert sorted(p.name for p in save.glob("*.ckpt")) == [STEP_CHECKPOINT]

    with CORES.take(2) as cores:
        resumed = subprocess.run(_msrun(data, save, workdir / "logs_resumed", "--ckpt_path", str(save), "--resume_opt", "True"),
                                 preexec_fn=on_cores(cores),
                                 cwd=workdir, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    assert resumed.returncode == 0, resumed.stdout[-3000:] + resumed.stderr[-3000:]
    sums = _checksums(save)
    assert sorted(sums) == [0, 1] and sums[0] == sums[1], sums
    log = (save / "train.log").read_text()
    assert f"resumed from {save / STEP_CHECKPOINT} in epoch {done[0] + 1} after step {done[1]}/4" in log
