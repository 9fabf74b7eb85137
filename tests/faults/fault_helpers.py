"""Running train.py / validate.py as a user does, and judging what they leave behind."""
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

import mindspore as ms
import numpy as np

from tests.engine.engine_helpers import train_args

REPO = Path(__file__).resolve().parents[2]
MODEL = "mobilenet_v2_035"
EPOCHS = 3
STEPS_PER_EPOCH = 2  # 16 training images in batches of 8
TIMEOUT_S = 300


def run_args(data_dir: Path, save_dir: Path, *extra: str) -> List[str]:
    """The run the kill tests interrupt: PyNative, EMA, a step log line per step."""
    return train_args(
        data_dir, save_dir, "--mode", "1", "--epoch_size", str(EPOCHS), "--log_interval", "1",
        "--ema", "True", "--ema_decay", "0.9", *extra,
    )


def resume_args(data_dir: Path, save_dir: Path) -> List[str]:
    """The documented resume command: the same arguments plus `--ckpt_path CKPT_SAVE_DIR --resume_opt True`."""
    return run_args(data_dir, save_dir, "--ckpt_path", str(save_dir), "--resume_opt", "True")


def checkpoint_name(epoch: int) -> str:
    return f"{MODEL}-{epoch}_{STEPS_PER_EPOCH}.ckpt"


def environment() -> Dict[str, str]:
    return {**os.environ, "GLOG_v": "3", "PYTHONPATH": str(REPO)}


def start(script: Path, args: List[str], workdir: Path, name: str) -> subprocess.Popen:
    """Launch `python script args` in `workdir`; stdout and stderr go to files named after `name`."""
    workdir.mkdir(parents=True, exist_ok=True)
    with open(workdir / f"{name}.out", "w") as out, open(workdir / f"{name}.err", "w") as err:
        return subprocess.Popen([sys.executable, str(script), *args], cwd=workdir, env=environment(), stdout=out, stderr=err)


def finish(process: subprocess.Popen, workdir: Path, name: str) -> str:
    """Wait for a process started by `start`; return its stderr."""
    process.wait(timeout=TIMEOUT_S)
    return (workdir / f"{name}.err").read_text()


def run(script: Path, args: List[str], workdir: Path, name: str) -> subprocess.CompletedProcess:
    process = start(script, args, workdir, name)
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
    """Every saved value (weights, BN statistics, EMA, optimizer state, counters) agrees to 1e-5."""
    got, expected = weights(path), weights(reference)
    assert got.keys() == expected.keys()
    assert any(k.startswith("ema.") for k in expected) and any(k.startswith("moments.") for k in expected)
    for name in expected:
        np.testing.assert_allclose(got[name], expected[name], rtol=1e-5, atol=1e-5, err_msg=name)
