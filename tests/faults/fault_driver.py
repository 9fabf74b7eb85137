"""train.py with faults injected at exact points, chosen by environment variables.

    MINDCV_FAULT=after_step_save:K   SIGKILL itself right after its K-th step checkpoint is complete
    MINDCV_FAULT=in_save:K           its K-th checkpoint write (step or epoch) leaves half a file, then SIGKILL
    MINDCV_FAULT_ARCHIVE=DIR         copy every step checkpoint to DIR/step_<global step>.ckpt (for comparisons)

Without MINDCV_FAULT it is train.py. Every graph-mode run of the fault tests goes through
this one script, so that MindSpore's compile cache (keyed on the entry script) serves them all.
"""
import os
import shutil
import signal
import sys
from pathlib import Path

import mindspore as ms

import train
from mindcv.checkpoint import io
from mindcv.checkpoint.manager import CheckpointManager


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _install(kind: str, count: int, archive: str) -> None:
    step_saves, saves = [], []
    real_save_step, real_ms_save = CheckpointManager.save_step, ms.save_checkpoint

    def save_step(self, *args, **kwargs):
        path = real_save_step(self, *args, **kwargs)
        step_saves.append(path)
        if archive:
            step = int(io.load_checkpoint(path, names=("step_num",))["step_num"].asnumpy())
            shutil.copyfile(path, Path(archive) / f"step_{step}.ckpt")
        if kind == "after_step_save" and len(step_saves) == count:
            _die()
        return path

    def ms_save(save_obj, ckpt_file_name, *args, **kwargs):
        saves.append(ckpt_file_name)
        real_ms_save(save_obj, ckpt_file_name, *args, **kwargs)
        if kind == "in_save" and len(saves) == count:
            os.chmod(ckpt_file_name, 0o600)  # MindSpore leaves checkpoints read-only
            os.truncate(ckpt_file_name, os.path.getsize(ckpt_file_name) // 2)
            _die()

    CheckpointManager.save_step = save_step
    ms.save_checkpoint = ms_save


if __name__ == "__main__":
    fault = os.environ.get("MINDCV_FAULT", "")
    kind, _, count = fault.partition(":")
    archive = os.environ.get("MINDCV_FAULT_ARCHIVE", "")
    if archive:
        Path(archive).mkdir(parents=True, exist_ok=True)
    _install(kind, int(count or 0), archive)
    sys.exit(train.main(sys.argv[1:]))
