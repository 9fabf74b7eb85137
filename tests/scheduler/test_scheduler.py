"""create_scheduler against the formulas written out by hand (epochs counted as step / steps_per_epoch)."""
import math

import pytest

from mindcv.errors import ConfigError
from mindcv.scheduler import SCHEDULER_NAMES, create_scheduler

SPE = 4  # steps per epoch in every example below
LR, MIN_LR = 0.8, 0.02


def approx(value):
    return pytest.approx(value, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("name", SCHEDULER_NAMES)
def test_every_schedule_has_one_value_per_step(name):
    lrs = create_scheduler(SPE, name, lr=LR, num_epochs=7, warmup_epochs=1, decay_epochs=2, milestones=[2])
    assert len(lrs) == SPE * 7
    assert all(isinstance(v, float) for v in lrs)


def test_linear_warmup_from_factor_to_lr():
    lrs = create_scheduler(SPE, "constant", lr=LR, warmup_epochs=2, warmup_factor=0.1, num_epochs=5)
    assert lrs[0] == approx(LR * 0.1)  # first warmup step
    assert lrs[1] == approx(LR * (0.1 + 0.9 * (1 / SPE) / 2))
    assert lrs[2 * SPE - 1] == approx(LR * (0.1 + 0.9 * ((2 * SPE - 1) / SPE) / 2))  # last warmup step
    assert lrs[2 * SPE :] == [approx(LR)] * (3 * SPE)  # warmup over: lr for the rest


def test_warmup_stair_holds_each_epoch():
    lrs = create_scheduler(
        SPE, "constant", lr=LR, warmup_epochs=2, warmup_factor=0.1, num_epochs=3, lr_epoch_stair=True
    )
    assert lrs[:SPE] == [approx(LR * 0.1)] * SPE
    assert lrs[SPE : 2 * SPE] == [approx(LR * (0.1 + 0.9 * 1 / 2))] * SPE
    assert lrs[2 * SPE :] == [approx(LR)] * SPE


def test_cosine_decay_after_warmup_then_min_lr():
    warmup, decay, epochs = 2, 5, 10
    lrs = create_scheduler(
        SPE, "cosine_decay", lr=LR, min_lr=MIN_LR, warmup_epochs=warmup, decay_epochs=decay, num_epochs=epochs
    )

    def cosine(t):  # t: epochs since the end of warmup
        return MIN_LR + 0.5 * (LR - MIN_LR) * (1 + math.cos(math.pi * t / decay))

    start = warmup * SPE
    assert lrs[0] == approx(0.0)  # warmup_factor defaults to 0
    assert lrs[start] == approx(LR)
    assert lrs[start + 1] == approx(cosine(1 / SPE))
    assert lrs[start + 10] == approx(MIN_LR + 0.5 * (LR - MIN_LR))  # halfway: t = 2.5 of 5
    assert lrs[start + decay * SPE - 1] == approx(cosine(decay - 1 / SPE))  # last decaying step
    assert lrs[start + decay * SPE :] == [approx(MIN_LR)] * ((epochs - warmup - decay) * SPE)


def test_cosine_decay_epoch_stair():
    lrs = create_scheduler(
        SPE, "cosine_decay", lr=LR, min_lr=MIN_LR, warmup_epochs=1, decay_epochs=5, num_epochs=8, lr_epoch_stair=True
    )
    second_decay_epoch = MIN_LR + 0.5 * (LR - MIN_LR) * (1 + math.cos(math.pi * 1 / 5))
    assert lrs[SPE : 2 * SPE] == [approx(LR)] * SPE
    assert lrs[2 * SPE : 3 * SPE] == [approx(second_decay_epoch)] * SPE  # same value across the epoch
    assert lrs[2 * SPE - 1] != lrs[2 * SPE]  # changes at the epoch boundary


def test_cosine_decay_cycles_restart_with_decayed_peak():
    lrs = create_scheduler(
        SPE, "cosine_decay", lr=LR, min_lr=0.0, warmup_epochs=0, decay_epochs=2, num_cycles=2, cycle_decay=0.5,
        num_epochs=6,
    )
    assert lrs[0] == approx(LR)
    assert lrs[2 * SPE] == approx(LR * 0.5)  # second cycle starts at the decayed peak
    assert lrs[3 * SPE] == approx(0.5 * LR * 0.5 * (1 + math.cos(math.pi * 1 / 2)))
    assert lrs[4 * SPE :] == [approx(0.0)] * (2 * SPE)  # after num_cycles: min_lr


def test_warmup_cosine_decay_is_mindcvs_older_name():
    args = dict(lr=LR, min_lr=MIN_LR, warmup_epochs=1, decay_epochs=3, num_epochs=5)
    assert create_scheduler(SPE, "warmup_cosine_decay", **args) == create_scheduler(SPE, "cosine_decay", **args)
    assert create_scheduler(SPE, "Cosine_Decay", **args) == create_scheduler(SPE, "cosine_decay", **args)


def test_exponential_decay_per_epoch_like_the_paper():
    lr = 0.045  # the paper: RMSProp lr 0.045 decayed 0.98 per epoch
    lrs = create_scheduler(SPE, "exponential_decay", lr=lr, decay_rate=0.98, warmup_epochs=1, num_epochs=10)
    assert lrs[SPE] == approx(lr)
    assert lrs[SPE + 10] == approx(lr * 0.98 ** (10 / SPE))
    assert lrs[-1] == approx(lr * 0.98 ** ((10 * SPE - 1 - SPE) / SPE))
    stair = create_scheduler(SPE, "exponential_decay", lr=lr, decay_rate=0.98, warmup_epochs=1, num_epochs=10,
                             lr_epoch_stair=True)
    assert stair[SPE + 10] == approx(lr * 0.98**2)
    # as in MindCV, decay_epochs plays no part: decay_rate applies once per epoch
    other = create_scheduler(SPE, "exponential_decay", lr=lr, decay_rate=0.98, warmup_epochs=1, num_epochs=10,
                             decay_epochs=3)
    assert other == lrs


def test_step_decay_every_decay_epochs():
    lrs = create_scheduler(SPE, "step_decay", lr=LR, decay_rate=0.5, decay_epochs=3, warmup_epochs=1, num_epochs=9)
    start = SPE  # decay epochs count from the end of warmup
    assert lrs[start + 3 * SPE - 1] == approx(LR)
    assert lrs[start + 3 * SPE] == approx(LR * 0.5)
    assert lrs[start + 6 * SPE] == approx(LR * 0.25)
    assert lrs[-1] == approx(LR * 0.25)


def test_multi_step_decay_at_milestones():
    lrs = create_scheduler(
        SPE, "multi_step_decay", lr=LR, decay_rate=0.1, milestones=[2, 5], warmup_epochs=1, num_epochs=8
    )
    start = SPE  # milestones count from the end of warmup, as in MindCV
    assert lrs[start + 2 * SPE - 1] == approx(LR)
    assert lrs[start + 2 * SPE] == approx(LR * 0.1)
    assert lrs[start + 5 * SPE - 1] == approx(LR * 0.1)
    assert lrs[start + 5 * SPE] == approx(LR * 0.01)
    assert lrs[-1] == approx(LR * 0.01)


def test_one_cycle_anneals_over_the_rest_of_training():
    warmup, epochs = 2, 10
    lrs = create_scheduler(SPE, "one_cycle", lr=LR, min_lr=MIN_LR, warmup_epochs=warmup, num_epochs=epochs,
                           warmup_factor=0.04)
    span = epochs - warmup
    assert lrs[0] == approx(LR * 0.04)
    assert lrs[warmup * SPE] == approx(LR)  # peak right after warmup
    assert lrs[warmup * SPE + 4 * SPE] == approx(MIN_LR + 0.5 * (LR - MIN_LR))  # halfway through the anneal
    last_t = span - 1 / SPE
    assert lrs[-1] == approx(MIN_LR + 0.5 * (LR - MIN_LR) * (1 + math.cos(math.pi * last_t / span)))


def test_unknown_scheduler_names_nearest():
    with pytest.raises(ConfigError, match="unknown scheduler 'cosine'.*did you mean 'cosine_decay'"):
        create_scheduler(SPE, "cosine")


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        (dict(lr=-0.1), "lr"),
        (dict(min_lr=-1.0), "min_lr"),
        (dict(warmup_epochs=11, num_epochs=10), "warmup_epochs"),
        (dict(steps_per_epoch=0), "steps_per_epoch"),
        (dict(num_epochs=0), "num_epochs"),
        (dict(warmup_factor=1.5), "warmup_factor"),
        (dict(scheduler="cosine_decay", decay_epochs=0), "decay_epochs"),
        (dict(scheduler="step_decay", decay_rate=0.0), "decay_rate"),
        (dict(scheduler="multi_step_decay", milestones=[5, 3]), "milestones"),
        (dict(scheduler="cosine_decay", num_cycles=0), "num_cycles"),
    ],
)
def test_bad_values_name_the_argument(kwargs, culprit):
    args = {"steps_per_epoch": SPE, **kwargs}
    with pytest.raises(ConfigError, match=culprit):
        create_scheduler(**args)
