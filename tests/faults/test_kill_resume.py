"""Interrupt a training run at each kill point, then the documented resume command: it ends as an uninterrupted run.

One lineage per mode (tests/faults/scenarios.py: kill_chain): SIGKILL after the first step, in the middle
of the epoch, while writing the next step checkpoint; after the last step of an epoch, while writing the
epoch checkpoint; at a random step (MINDCV_FAULT_SEED picks it; the test prints it); then SIGTERM in the
middle of an epoch (exit 143 within 30 s, a checkpoint, the resume command logged and run). Every step
state written on the way, the final and best checkpoints (weights, BN statistics, EMA, optimizer moments,
loss scale, step counters) and summary.csv must equal the uninterrupted run's, to 1e-5.
"""
import pytest


@pytest.mark.parametrize("mode", [0, 1], ids=["graph", "pynative"])
def test_interrupt_at_every_kill_point_then_resume_gives_the_uninterrupted_run(kill_chains, mode):
    kill_chains[mode].result()
