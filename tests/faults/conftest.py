import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest

from fault_helpers import REPO, checkpoint_name, EPOCHS, finish, run_args, start
from tests.engine.engine_helpers import write_image_folder


@pytest.fixture(scope="session")
def fault_data(tmp_path_factory) -> Path:
    """4 classes: 4 training and 2 validation images each (2 steps per epoch)."""
    return write_image_folder(tmp_path_factory.mktemp("fault_data"), {"train": 4, "val": 2})


@dataclass
class BackgroundRun:
    process: subprocess.Popen
    workdir: Path
    save_dir: Path

    def final_checkpoint(self) -> Path:
        stderr = finish(self.process, self.workdir, "reference")
        assert self.process.returncode == 0, stderr[-3000:]
        return self.save_dir / checkpoint_name(EPOCHS)


@pytest.fixture(scope="session")
def reference_run(fault_data, tmp_path_factory) -> BackgroundRun:
    """The uninterrupted run, once per session; it runs in the background while a test prepares its crash."""
    workdir = tmp_path_factory.mktemp("reference")
    save_dir = workdir / "ckpt"
    process = start(REPO / "train.py", run_args(fault_data, save_dir), workdir, "reference")
    yield BackgroundRun(process, workdir, save_dir)
    if process.poll() is None:
        process.kill()
        process.wait()


@pytest.fixture(scope="session", autouse=True)
def _start_reference_first(request):
    """Start the uninterrupted run before the first test when any selected test needs it, so it overlaps the others."""
    if any("reference_run" in item.fixturenames for item in request.session.items):
        request.getfixturevalue("reference_run")
