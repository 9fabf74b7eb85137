"""create_scheduler: per-step learning rates, with MindCV's names and argument meanings."""
import logging
from numbers import Real
from typing import List, Optional, Sequence

import numpy as np

from ..errors import ConfigError, did_you_mean
from .lr_curves import (
    cosine_anneal,
    cosine_decay,
    exponential_decay,
    linear_warmup,
    multi_step_decay,
    step_decay,
)

_logger = logging.getLogger(__name__)

SCHEDULER_NAMES = ("constant", "cosine_decay", "exponential_decay", "step_decay", "multi_step_decay", "one_cycle")
_ALIASES = {"warmup_cosine_decay": "cosine_decay"}  # MindCV's older name


def create_scheduler(
    steps_per_epoch: int,
    scheduler: str = "constant",
    lr: float = 0.01,
    min_lr: float = 1e-6,
    warmup_epochs: int = 3,
    warmup_factor: float = 0.0,
    decay_epochs: int = 10,
    decay_rate: float = 0.9,
    milestones: Optional[Sequence[float]] = None,
    num_epochs: int = 200,
    lr_epoch_stair: bool = False,
    num_cycles: int = 1,
    cycle_decay: float = 1.0,
) -> List[float]:
    """Learning rate of every training step (`steps_per_epoch * num_epochs` values), as MindCV computes it.

    The first `warmup_epochs` rise linearly from `lr * warmup_factor` towards `lr`. The
    decay phase then starts at `lr`; its epochs (`decay_epochs`, `milestones`) count from
    the end of warmup:

    - constant: `lr`.
    - cosine_decay: half cosine from `lr` to `min_lr` over `decay_epochs`, repeated
      `num_cycles` times with peaks scaled by `cycle_decay`, then `min_lr`.
    - exponential_decay: `lr * decay_rate ** epochs` (the paper's 0.98 per epoch;
      `decay_epochs` plays no part, as in MindCV).
    - step_decay: times `decay_rate` every `decay_epochs` epochs.
    - multi_step_decay: times `decay_rate` at each epoch in `milestones`.
    - one_cycle: half cosine from `lr` to `min_lr` over all epochs after warmup.

    Values are taken at the start of each step; `lr_epoch_stair=True` holds each epoch's
    first value for the whole epoch.
    """
    name = _resolve_name(scheduler)
    _check_integer("steps_per_epoch", steps_per_epoch, minimum=1)
    _check_integer("num_epochs", num_epochs, minimum=1)
    _check_integer("warmup_epochs", warmup_epochs, minimum=0)
    if warmup_epochs > num_epochs:
        raise ConfigError(f"warmup_epochs={warmup_epochs} is more than num_epochs={num_epochs}")
    _check_number("lr", lr, 0.0)
    _check_number("min_lr", min_lr, 0.0)
    _check_number("warmup_factor", warmup_factor, 0.0, 1.0)

    if name in ("cosine_decay", "step_decay"):
        _check_integer("decay_epochs", decay_epochs, minimum=1)
    if name in ("exponential_decay", "step_decay", "multi_step_decay"):
        _check_number("decay_rate", decay_rate, 0.0, low_inclusive=False)
    if name == "multi_step_decay":
        milestones = _checked_milestones(milestones)
    if name == "cosine_decay":
        _check_integer("num_cycles", num_cycles, minimum=1)
        _check_number("cycle_decay", cycle_decay, 0.0, low_inclusive=False)
        if warmup_epochs + decay_epochs * num_cycles > num_epochs:
            _logger.warning(
                "warmup_epochs + decay_epochs * num_cycles = %d exceeds num_epochs = %d: "
                "the LR stops before reaching min_lr",
                warmup_epochs + decay_epochs * num_cycles,
                num_epochs,
            )

    decay_curves = {
        "constant": lambda t: np.full_like(t, lr),
        "cosine_decay": lambda t: cosine_decay(t, lr, min_lr, decay_epochs, num_cycles, cycle_decay),
        "exponential_decay": lambda t: exponential_decay(t, lr, decay_rate),
        "step_decay": lambda t: step_decay(t, lr, decay_rate, decay_epochs),
        "multi_step_decay": lambda t: multi_step_decay(t, lr, decay_rate, milestones),
        "one_cycle": lambda t: cosine_anneal(t, lr, min_lr, num_epochs - warmup_epochs),
    }
    epochs = np.arange(steps_per_epoch * num_epochs, dtype=np.float64) / steps_per_epoch
    if lr_epoch_stair:
        epochs = np.floor(epochs)
    warmup_steps = warmup_epochs * steps_per_epoch
    warmup = linear_warmup(epochs[:warmup_steps], lr, warmup_epochs, warmup_factor) if warmup_steps else []
    decay = decay_curves[name](epochs[warmup_steps:] - warmup_epochs)
    return np.concatenate([warmup, decay]).tolist()


def _resolve_name(scheduler: str) -> str:
    name = str(scheduler).lower()
    name = _ALIASES.get(name, name)
    if name not in SCHEDULER_NAMES:
        hint = did_you_mean(name, SCHEDULER_NAMES)
        raise ConfigError(f"unknown scheduler '{scheduler}'{hint} (choose from {', '.join(SCHEDULER_NAMES)})")
    return name


def _check_integer(arg: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{arg} must be an integer >= {minimum}, got {value!r}")


def _check_number(arg: str, value, low: float, high: Optional[float] = None, low_inclusive: bool = True) -> None:
    in_range = isinstance(value, Real) and not isinstance(value, bool)
    in_range = in_range and (value >= low if low_inclusive else value > low) and (high is None or value <= high)
    if not in_range:
        bounds = (">= " if low_inclusive else "> ") + str(low) + ("" if high is None else f" and <= {high}")
        raise ConfigError(f"{arg} must be a number {bounds}, got {value!r}")


def _checked_milestones(milestones: Optional[Sequence[float]]) -> List[float]:
    values = list(milestones or [])
    if not all(isinstance(m, Real) and not isinstance(m, bool) and m > 0 for m in values):
        raise ConfigError(f"milestones must be positive epoch numbers, got {milestones!r}")
    if any(b <= a for a, b in zip(values, values[1:])):
        raise ConfigError(f"milestones must be strictly increasing, got {milestones!r}")
    return values
