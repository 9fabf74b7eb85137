"""The kill and stop scenarios: training processes interrupted at exact points, resumed, and compared.

Each function runs its processes one after another and asserts as it goes; conftest.py runs
them in background threads from the start of the session (they mostly wait for their
processes), at most PROCESS_SLOTS training processes at a time, and the tests wait for them.
"""
import json
import os
import random
import shlex
import signal
import subprocess
import threading
import time
from pathlib import Path

from fault_helpers import (
    DRIVER, EPOCHS, REPO, RESUME_STEPS, STEP_CHECKPOINT, TIMEOUT_S, assert_same_weights, checkpoint_name, environment,
    logged_steps, resume_args, run_args, start, summary_values, wait_until,
)
from mindcv.checkpoint.manager import INDEX_FILE, resume_checkpoint, training_progress

# Training processes at once: 2 cores, and each MindSpore process takes about 1.5 GB.
PROCESS_SLOTS = threading.BoundedSemaphore(3)
STOP_DEADLINE_S = 30


def _run_to_end(script: Path, args: list, workdir: Path, name: str, env: dict) -> None:
    with PROCESS_SLOTS:
        process = start(script, args, workdir, name, env)
        code = process.wait(timeout=TIMEOUT_S)
    assert code == 0, f"{name}: exit code {code}\n" + (workdir / f"{name}.err").read_text()[-3000:]


def reference(data: Path, workdir: Path, mode: int) -> Path:
    """The uninterrupted run; keeps a copy of every step checkpoint in <workdir>/steps. Returns its save dir."""
    save = workdir / "ckpt"
    _run_to_end(DRIVER, run_args(data, save, mode), workdir, "reference", environment(MINDCV_FAULT_ARCHIVE=str(workdir / "steps")))
    return save


def _indexed_epochs(save_dir: Path) -> list:
    index = save_dir / INDEX_FILE
    return [record["epoch"] for record in json.loads(index.read_text())] if index.is_file() else []


def _partial_files(save_dir: Path) -> list:
    return sorted(save_dir.glob(".*.tmp*"))


def _assert_same_run(save: Path, archive: Path, reference_save: Path, what: str) -> None:
    """Every step checkpoint written on the way, the final and best checkpoints and summary.csv equal the reference's."""
    reference_steps = reference_save.parent / "steps"
    steps = [archive / f"step_{step}.ckpt" for step in range(1, EPOCHS * RESUME_STEPS + 1)]
    assert all(path.is_file() for path in steps), f"{what}: {sorted(p.name for p in archive.iterdir())} were written"
    for path in steps:  # in step order, so the first difference names the link that broke
        assert_same_weights(path, reference_steps / path.name)
    assert_same_weights(save / checkpoint_name(2), reference_save / checkpoint_name(2))
    if (reference_save / "best.ckpt").is_file():  # runs that validate
        assert_same_weights(save / "best.ckpt", reference_save / "best.ckpt")
    assert summary_values(save) == summary_values(reference_save), what
    assert _indexed_epochs(save) == [1, 2] and not _partial_files(save), what


def kill_chain(data: Path, workdir: Path, mode: int, reference_run, compile_cache: Path) -> None:
    """SIGKILL at each kill point in turn, each time resuming with the documented command:

    the first step; the middle of an epoch while writing a step checkpoint; right after the last
    step of an epoch (before validation and the epoch checkpoint); while writing the epoch
    checkpoint; a random step (external kill -9, seed printed). The last resume runs to the end.
    Graph-mode links share MindSpore's compile cache (the same graph, compiled once;
    stop_by_sigterm's graph-mode runs compile without it). They do not validate: the cache
    numbers graphs in compile order, which differs for a run resumed after an epoch's last step.
    """
    save, archive = workdir / "ckpt", workdir / "steps"
    seed = int(os.environ.get("MINDCV_FAULT_SEED") or random.randrange(10**6))
    kill_step = random.Random(seed).randint(1, RESUME_STEPS - 1)  # in epoch 2; its last step could end the run first
    print(f"mode {mode}: random kill in epoch 2 after step {kill_step} (MINDCV_FAULT_SEED={seed})")
    what = f"mode {mode}, MINDCV_FAULT_SEED={seed}"
    step_file = save / STEP_CHECKPOINT

    def env(fault: str = "") -> dict:
        return environment(compile_cache if mode == 0 else None, MINDCV_FAULT_ARCHIVE=str(archive), MINDCV_FAULT=fault)

    def killed(name: str, fault: str = "", resume: bool = True, kill_at: tuple = ()) -> None:
        args = resume_args(data, save, mode) if resume else run_args(data, save, mode)
        with PROCESS_SLOTS:
            process = start(DRIVER, args, workdir, name, env(fault))
            if kill_at:
                try:
                    wait_until(lambda: kill_at in logged_steps(save / "train.log"), process, f"{name}: epoch/step {kill_at}")
                finally:
                    process.send_signal(signal.SIGKILL)
            code = process.wait(timeout=TIMEOUT_S)
        assert code == -signal.SIGKILL, f"{what}, {name}: exit code {code}\n" + (workdir / f"{name}.err").read_text()[-3000:]

    killed("first_step", "after_step_save:1", resume=False)
    assert training_progress(step_file) == (0, 1) and _indexed_epochs(save) == [], what
    assert resume_checkpoint(save) == step_file

    # Middle of epoch 1: saves step 2, then dies writing step 3's checkpoint; step 2's stays.
    killed("in_step_save", "in_save:2")
    assert training_progress(step_file) == (0, 2) and _partial_files(save), what

    # Saves steps 3 and 4, then dies before validating and writing the epoch checkpoint.
    killed("after_last_step", "after_step_save:2")
    assert training_progress(step_file) == (0, 4) and _indexed_epochs(save) == [], what
    assert not _partial_files(save), "the resumed run removes the half-written file"

    # Nothing left to train in epoch 1: ends it (validates in PyNative mode), then dies writing its checkpoint.
    killed("in_epoch_save", "in_save:1")
    assert not (save / checkpoint_name(1)).exists() and _indexed_epochs(save) == [] and _partial_files(save), what
    assert resume_checkpoint(save) == step_file and training_progress(step_file) == (0, 4), what

    killed("random_step", kill_at=(2, kill_step))
    assert _indexed_epochs(save) == [1], what
    # The kill may land before the step's checkpoint: then epoch 1's is the newest state.
    newest = resume_checkpoint(save)
    assert newest == save / checkpoint_name(1) or newest == step_file and training_progress(step_file)[0] == 1, what

    _run_to_end(DRIVER, resume_args(data, save, mode), workdir, "to_the_end", env())
    log = (save / "train.log").read_text()
    assert f"resumed from {step_file} in epoch 1 after step 4/{RESUME_STEPS}" in log
    assert f"resumed from {newest} " in log
    _assert_same_run(save, archive, reference_run.result(), what)


def stop_by_sigterm(data: Path, workdir: Path, mode: int, reference_run) -> None:
    """SIGTERM in the middle of an epoch of a run without step checkpoints: the run finishes its step, writes a
    resumable checkpoint, logs the resume command and exits with 143 within STOP_DEADLINE_S; that command ends
    the run as the reference ended. Compiled without a cache, through the real train.py."""
    save = workdir / "ckpt"
    args = run_args(data, save, mode, "--ckpt_save_steps", "0")
    with PROCESS_SLOTS:
        process = start(REPO / "train.py", args, workdir, "stopped")
        try:
            wait_until(lambda: (1, 2) in logged_steps(save / "train.log"), process, "epoch 1 step 2")
        finally:
            process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        code = process.wait(timeout=TIMEOUT_S)
        took = time.monotonic() - signalled
    assert code == 128 + signal.SIGTERM, (workdir / "stopped.err").read_text()[-3000:]
    assert took < STOP_DEADLINE_S, f"exited {took:.1f} s after SIGTERM"
    lines = [line for line in (save / "train.log").read_text().splitlines() if "stopped by SIGTERM" in line]
    assert len(lines) == 1, lines
    where, saved, command = lines[0].split("stopped by SIGTERM ")[1].split("; ")
    step = training_progress(save / STEP_CHECKPOINT)
    assert where == f"after epoch 1 step {step[1]}/{RESUME_STEPS}" and step[0] == 0 and step[1] >= 2, lines[0]
    assert saved == f"saved {save / STEP_CHECKPOINT}"
    assert sorted(p.name for p in save.glob("*.ckpt")) == [STEP_CHECKPOINT]
    command = shlex.split(command.removeprefix("resume with: "))
    assert command[-4:] == ["--ckpt_path", str(save), "--resume_opt", "True"]

    with PROCESS_SLOTS:
        done = subprocess.run(command, cwd=workdir, env=environment(), capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 0, done.stderr[-3000:]
    reference_save = reference_run.result()
    assert_same_weights(save / checkpoint_name(2), reference_save / checkpoint_name(2))
    assert summary_values(save) == summary_values(reference_save)


def second_signal_exits_at_once(data: Path, workdir: Path) -> None:
    """A second SIGINT, while the first step still compiles, ends the run at once (exit 130) without a checkpoint."""
    save = workdir / "ckpt"
    with PROCESS_SLOTS:
        process = start(REPO / "train.py", run_args(data, save, 0), workdir, "interrupted")
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
