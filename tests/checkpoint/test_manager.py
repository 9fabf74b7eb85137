"""CheckpointManager: best.ckpt and the checkpoint list across runs in one folder."""
import json
import logging

import mindspore as ms
import numpy as np
from mindspore import nn

from mindcv.checkpoint import manager as manager_module
from mindcv.checkpoint.manager import BEST_FILE, EARLIER_BEST_FILE, INDEX_FILE, CheckpointManager


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
