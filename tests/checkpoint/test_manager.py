"""CheckpointManager: best.ckpt and the checkpoint list across runs in one folder."""
import json
import logging

import mindspore as ms
import numpy as np
from mindspore import nn

from mindcv.checkpoint import manager as manager_module
from mindcv.checkpoint.manager import (
    BEST_FILE, EARLIER_BEST_FILE, INDEX_FILE, STEP_FILE_SUFFIX, CheckpointManager, resume_checkpoint, training_progress,
)


def _cell(value: float) -> nn.Cell:
    cell = nn.Dense(2, 1)
    cell.weight.set_data(ms.Tensor(np.full((1, 2), value, np.float32)))
    return cell


def _weight(path) -> float:
    return float(ms.load_checkpoint(str(path))["weight"].asnumpy()[0, 0])


def _earlier_run(folder) -> None:
    """Two epochs of a run that reached val top-1 0.9 (best.ckpt holds weight 2)."""
    earlier = CheckpointManager(folder, "net", keep_max=5)
    earlier.save(_cell(1.0), 1, 10, metric=0.5)
    earlier.save(_cell(2.0), 2, 10, metric=0.9)
    assert _weight(folder / BEST_FILE) == 2.0


def test_a_new_run_sets_the_earlier_runs_list_and_best_aside(tmp_path, caplog):
    _earlier_run(tmp_path)
    logger = logging.getLogger(manager_module.__name__)
    logger.addHandler(caplog.handler)
    try:
        run = CheckpointManager(tmp_path, "net", keep_max=5, start_new_run=True)
    finally:
        logger.removeHandler(caplog.handler)
    assert "holds 2 checkpoint(s) of an earlier run" in caplog.text
    assert run.records == [] and json.loads((tmp_path / INDEX_FILE).read_text()) == []
    assert _weight(tmp_path / EARLIER_BEST_FILE) == 2.0 and not (tmp_path / BEST_FILE).exists()
    # A metric below the earlier run's best still makes this run's best.ckpt.
    run.save(_cell(3.0), 1, 10, metric=0.4)
    assert _weight(tmp_path / BEST_FILE) == 3.0
    assert run.best["metric"] == 0.4 and [r["file"] for r in run.records] == ["net-1_10.ckpt"]


def test_a_resumed_run_keeps_the_list_and_its_best(tmp_path):
    _earlier_run(tmp_path)
    run = CheckpointManager(tmp_path, "net", keep_max=5)
    assert [r["epoch"] for r in run.records] == [1, 2]
    run.save(_cell(3.0), 3, 10, metric=0.4)
    assert _weight(tmp_path / BEST_FILE) == 2.0 and run.best["epoch"] == 2
    assert not (tmp_path / EARLIER_BEST_FILE).exists()


def test_step_checkpoints_replace_each_other_outside_the_list_and_resume_when_newest(tmp_path):
    run = CheckpointManager(tmp_path, "net", keep_max=1)
    run.save(_cell(1.0), 1, 10, metric=0.9)
    assert resume_checkpoint(tmp_path) == tmp_path / "net-1_10.ckpt"
    for step, value in ((3, 2.0), (7, 3.0)):
        path = run.save_step(_cell(value), 1, step, 10, state={"epoch_loss_sum": 1.5})
    assert path == tmp_path / f"net{STEP_FILE_SUFFIX}" and run.latest == path
    assert sorted(p.name for p in tmp_path.glob("*.ckpt")) == [BEST_FILE, "net-1_10.ckpt", path.name]
    assert [r["file"] for r in run.records] == ["net-1_10.ckpt"] and _weight(tmp_path / BEST_FILE) == 1.0
    entries = ms.load_checkpoint(str(path))
    assert (int(entries["epoch_num"].asnumpy()), int(entries["step_in_epoch"].asnumpy())) == (1, 7)
    assert int(entries["step_num"].asnumpy()) == 17 and float(entries["epoch_loss_sum"].asnumpy()) == 1.5
    assert training_progress(path) == (1, 7) and resume_checkpoint(tmp_path) == path and _weight(path) == 3.0
    # The epoch checkpoint written after the epoch's last step supersedes the step checkpoint.
    run.save_step(_cell(4.0), 1, 10, 10)
    run.save(_cell(4.0), 2, 10)
    assert resume_checkpoint(tmp_path) == tmp_path / "net-2_10.ckpt"


def test_a_new_run_removes_the_earlier_runs_step_checkpoint(tmp_path):
    CheckpointManager(tmp_path, "net").save_step(_cell(1.0), 0, 3, 10)
    assert resume_checkpoint(tmp_path) == tmp_path / f"net{STEP_FILE_SUFFIX}"
    run = CheckpointManager(tmp_path, "net", start_new_run=True)
    assert not list(tmp_path.glob("*.ckpt")) and run.latest is None
