"""create_loss: classification losses by MindCV's names."""
from typing import Optional, Sequence, Union

import mindspore as ms
from mindspore import Tensor, nn

from ..errors import ConfigError, did_you_mean
from .binary_cross_entropy import BinaryCrossEntropySmooth
from .cross_entropy import CrossEntropySmooth

_LOSSES = {"ce": CrossEntropySmooth, "bce": BinaryCrossEntropySmooth}
LOSS_NAMES = ("CE", "BCE")
REDUCTIONS = ("mean", "sum", "none")


def create_loss(
    name: str = "CE",
    weight: Optional[Union[Tensor, Sequence[float]]] = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
    aux_factor: float = 0.0,
) -> nn.Cell:
    """Build loss `name` ('CE' softmax cross entropy, 'BCE' sigmoid binary cross entropy; any case).

    Both take logits [N, C] and labels that are class indices [N] (int; smoothed by
    `label_smoothing`) or class probabilities [N, C] (float, from mixup/cutmix, used as
    given). `weight` [C] rescales classes; `reduction` is 'mean', 'sum' or 'none';
    `aux_factor` > 0 adds that share of the loss of extra heads when the network
    returns a tuple (main_logits, aux_logits, ...).
    """
    loss_cls = _LOSSES.get(str(name).lower())
    if loss_cls is None:
        hint = did_you_mean(str(name).upper(), LOSS_NAMES, cutoff=0.3)
        raise ConfigError(f"unknown loss '{name}'{hint} (choose from {', '.join(LOSS_NAMES)}, any case)")
    if reduction not in REDUCTIONS:
        raise ConfigError(f"reduction must be one of {', '.join(REDUCTIONS)}, got {reduction!r}")
    if not 0.0 <= label_smoothing < 1.0:
        raise ConfigError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}")
    if aux_factor < 0.0:
        raise ConfigError(f"aux_factor must be >= 0, got {aux_factor!r}")
    if weight is not None and not isinstance(weight, Tensor):
        weight = Tensor(weight, ms.float32)
    return loss_cls(smoothing=label_smoothing, aux_factor=aux_factor, reduction=reduction, weight=weight)
