"""Running train.py / validate.py as a user does, and judging what they leave behind."""
import csv
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Set

import mindspore as ms
import numpy as np

from mindcv.checkpoint.manager import STEP_FILE_SUFFIX
from tests.engine.engine_helpers import train_args

REPO = Path(__file__).resolve().parents[2]
DRIVER = Path(__file__).with_name("fault_driver.py")
MODEL = "mobilenet_v2_035"
STEPS_PER_EPOCH = 2  # fault_data: 16 training images in batches of 8
TIMEOUT_S = 300

# The runs the kill and stop tests interrupt, on resume_data: 32 training images in batches of 8.
EPOCHS = 3
RESUME_STEPS = 4
STEP_CHECKPOINT = f"{MODEL}{STEP_FILE_SUFFIX}"
# summary.csv columns that must repeat exactly (the others are timings)
SUMMARY_VALUES = ("epoch", "lr", "train_loss", "val_top1", "val_top5", "val_loss", "skipped_steps")


def run_args(data_dir: Path, save_dir: Path, mode: int, *extra: str) -> List[str]:
    """Everything random or stateful at once: dropout, crops, flips, colour jitter, random erasing, mixup,
    EMA, a dynamic loss scale; a step checkpoint after every step. PyNative runs validate each epoch
    (best.ckpt, validation after a resume); in graph mode the evaluation graph would add a compilation
    to every run."""
    validation = ("--val_while_train", "True") if mode == 1 else ()
    return train_args(
        data_dir, save_dir, "--mode", str(mode), "--epoch_size", str(EPOCHS), "--log_interval", "1",
        "--ema", "True", "--ema_decay", "0.9", "--ckpt_save_steps", "1", *validation,
        "--loss_scale_type", "dynamic", "--loss_scale", "1024", "--mixup", "0.2", "--re_prob", "0.25",
        "--color_jitter", "0.4", *extra,
    )


def resume_args(data_dir: Path, save_dir: Path, mode: int, *extra: str) -> List[str]:
    """The documented resume command: the same arguments plus `--ckpt_path CKPT_SAVE_DIR --resume_opt True`."""
    return run_args(data_dir, save_dir, mode, *extra, "--ckpt_path", str(save_dir), "--resume_opt", "True")


def checkpoint_name(epoch: int, steps: int = RESUME_STEPS) -> str:
    return f"{MODEL}-{epoch}_{steps}.ckpt"


def environment(compile_cache: Optional[Path] = None, **extra: str) -> Dict[str, str]:
    """The test's environment for a run; `compile_cache` turns on MindSpore's graph compile cache there."""
    env = {**os.environ, "GLOG_v": "3", "PYTHONPATH": str(REPO), **extra}
    if compile_cache is not None:
        env.update(MS_COMPILER_CACHE_ENABLE="1", MS_COMPILER_CACHE_PATH=str(compile_cache))
    return env


def on_cores(cores: Optional[Set[int]]) -> Optional[Callable[[], None]]:
    """A `preexec_fn` that keeps a process (and every thread it starts) on `cores`."""
    return None if not cores else lambda: os.sched_setaffinity(0, cores)


def start(
    script: Path, args: List[str], workdir: Path, name: str, env: Optional[Dict[str, str]] = None,
    cores: Optional[Set[int]] = None,
) -> subprocess.Popen:
    """Launch `python script args` in `workdir` (on `cores`); stdout and stderr go to files named after `name`."""
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / f"{name}.out", "w") as out, open(workdir / f"{name}.err", "w") as err:
        return subprocess.Popen([sys.executable, str(script), *args], cwd=workdir, env=env or environment(), stdout=out,
                                stderr=err, preexec_fn=on_cores(cores))


def finish(process: subprocess.Popen, workdir: Path, name: str) -> str:
    """Wait for a process started by `start`; return its stderr."""
    process.wait(timeout=TIMEOUT_S)
    return (workdir / f"{name}.err").read_text()


def run(script: Path, args: List[str], workdir: Path, name: str, env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    process = start(script, args, workdir, name, env)
    stderr = finish(process, workdir, name)
    return subprocess.CompletedProcess(process.args, process.returncode, (workdir / f"{name}.out").read_text(), stderr)


def assert_finished(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]


def wait_until(condition: Callable[[], bool], process: subprocess.Popen, what: str) -> None:
    """Poll `condition` until it holds; fail if the process ends first or time runs out."""
    deadline = time.monotonic() + TIMEOUT_S
    while not condition():
        assert process.poll() is None, f"the run ended (code {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def logged_steps(log: Path) -> List[tuple]:
    """(epoch, step) of every step line in a train.log."""
    text = log.read_text() if log.is_file() else ""
    return [(int(e), int(s)) for e, s in re.findall(r"INFO epoch (\d+) step (\d+)/\d+ loss", text)]


def user_error(stderr: str) -> str:
    """The one `error: ...` line of a failed run; asserts there is exactly one and no traceback."""
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, stderr[-3000:]
    return errors[0]


def weights(path: Path) -> Dict[str, np.ndarray]:
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(str(path)).items() if isinstance(v, ms.Parameter)}


def assert_same_weights(path: Path, reference: Path) -> None:
    """Every saved value (weights, BN statistics, EMA, optimizer state, loss scale, counters, the epoch's
    running loss) agrees to 1e-5; only the epoch's running time may differ."""
    got, expected = weights(path), weights(reference)
    for values in (got, expected):
        values.pop("epoch_seconds", None)
    assert got.keys() == expected.keys()
    assert any(k.startswith("ema.") for k in expected) and any(k.startswith("moments.") for k in expected)
    assert "loss_scale" in expected and "global_step" in expected
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-5, err_msg=f"{path}: {name}")


def summary_values(save_dir: Path) -> List[Dict[str, str]]:
    """The rows of summary.csv without their timings."""
    with open(save_dir / "summary.csv", newline="") as f:
        return [{key: row[key] for key in SUMMARY_VALUES} for row in csv.DictReader(f)]


class Background:
    """Run `function(*args)` in a thread from now on; `result()` waits and re-raises what it raised (failed asserts too).

    The fault scenarios each spend most of their time waiting for training processes, so running them side by
    side keeps the suite's time near its CPU time on 2 cores.
    """

    def __init__(self, function: Callable, *args) -> None:
        self._value = None
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._run, args=(function, *args), daemon=True)
        self._thread.start()

    def _run(self, function: Callable, *args) -> None:
        try:
            self._value = function(*args)
        except BaseException as err:  # handed to the test that waits for it
            self._error = err

    def result(self):
        self._thread.join(timeout=3 * TIMEOUT_S)
        assert not self._thread.is_alive(), "the scenario did not finish in time"
        if self._error is not None:
            raise self._error
        return self._value
