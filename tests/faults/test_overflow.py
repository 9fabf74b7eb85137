"""Non-finite gradients under a dynamic loss scale: the step is skipped and counted, and training goes on.

Without a dynamic scale a NaN loss stops the run naming the step and the last good checkpoint:
tests/engine/test_train.py::test_diverging_loss_stops_with_the_step_and_last_checkpoint.
"""
import csv
import re

import mindspore as ms
import pytest

import train
from fault_helpers import MODEL, STEPS_PER_EPOCH
from tests.engine.engine_helpers import train_args

EPOCHS = 4  # 8 steps: about 6 overflow before the scale is small enough
INITIAL_SCALE = 1e38  # the scaled gradients overflow float32 until the scale has halved a few times


def test_overflowing_steps_are_skipped_counted_and_the_scale_halves(fault_data, tmp_path, capsys):
    save = tmp_path / "ckpt"
    args = train_args(
        fault_data, save, "--mode", "1", "--epoch_size", str(EPOCHS), "--warmup_epochs", "0",
        "--loss_scale_type", "dynamic", "--loss_scale", str(INITIAL_SCALE),
    )
    assert train.main(args) == 0
    capsys.readouterr()

    state = ms.load_checkpoint(str(save / f"{MODEL}-{EPOCHS}_{STEPS_PER_EPOCH}.ckpt"))
    skipped = int(state["skipped_steps"].asnumpy())
    total = EPOCHS * STEPS_PER_EPOCH
    assert 0 < skipped < total  # some steps overflowed, later ones trained
    # Skipped steps never reach the optimizer; the scale halved once per skip (it grows only after 2000 good steps).
    assert int(state["global_step"].asnumpy()[0]) == total - skipped
    assert float(state["loss_scale"].asnumpy()) == pytest.approx(INITIAL_SCALE / 2**skipped, rel=1e-6)

    with open(save / "summary.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["epoch"] for r in rows] == [str(e) for e in range(1, EPOCHS + 1)]
    assert int(rows[-1]["skipped_steps"]) == skipped
    warnings = re.findall(r"WARNING epoch \d+ step \d+: gradients overflowed at loss scale \S+; update skipped", (save / "train.log").read_text())
    assert len(warnings) == skipped
