"""Learning-rate curves as functions of time in epochs (numpy arrays in, arrays out).

`t` counts epochs from the start of the phase: fractional (step / steps_per_epoch)
for per-step values, whole numbers when the LR is held for an epoch.
"""
from typing import Sequence

import numpy as np


def linear_warmup(t: np.ndarray, lr: float, warmup_epochs: float, warmup_factor: float) -> np.ndarray:
    """Straight line from lr * warmup_factor at t = 0 towards lr at t = warmup_epochs."""
    return lr * (warmup_factor + (1.0 - warmup_factor) * t / warmup_epochs)


def cosine_decay(
    t: np.ndarray, lr: float, min_lr: float, decay_epochs: float, num_cycles: int, cycle_decay: float
) -> np.ndarray:
    """Half cosine from a peak to min_lr over decay_epochs, restarted num_cycles times, then min_lr.

    Cycle c starts at peak lr * cycle_decay**c.
    """
    cycle = np.floor(t / decay_epochs)
    peak = lr * cycle_decay**cycle
    position = (t - cycle * decay_epochs) / decay_epochs
    curve = min_lr + 0.5 * (peak - min_lr) * (1.0 + np.cos(np.pi * position))
    return np.where(cycle < num_cycles, curve, min_lr)


def exponential_decay(t: np.ndarray, lr: float, decay_rate: float) -> np.ndarray:
    """lr multiplied by decay_rate once per epoch (continuously within an epoch)."""
    return lr * decay_rate**t


def step_decay(t: np.ndarray, lr: float, decay_rate: float, decay_epochs: float) -> np.ndarray:
    """lr multiplied by decay_rate every decay_epochs whole epochs."""
    return lr * decay_rate ** np.floor(t / decay_epochs)


def multi_step_decay(t: np.ndarray, lr: float, decay_rate: float, milestones: Sequence[float]) -> np.ndarray:
    """lr multiplied by decay_rate at each milestone epoch reached."""
    passed = np.searchsorted(np.asarray(milestones, dtype=np.float64), t, side="right")
    return lr * decay_rate**passed


def cosine_anneal(t: np.ndarray, lr: float, min_lr: float, total_epochs: float) -> np.ndarray:
    """Half cosine from lr at t = 0 to min_lr at t = total_epochs."""
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + np.cos(np.pi * t / total_epochs))
