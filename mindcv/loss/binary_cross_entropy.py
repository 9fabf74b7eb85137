"""Sigmoid binary cross entropy per class, with label smoothing."""
from typing import Optional

from mindspore import Tensor, ops

from .aux_logits import AuxLogitsLoss


class BinaryCrossEntropySmooth(AuxLogitsLoss):
    """Binary cross entropy with logits on [N, C], each class an independent yes/no.

    Class indices [N] (int) become one-hot targets smoothed to
    `onehot * (1 - smoothing) + smoothing / C`; float targets [N, C] (mixup/cutmix)
    are already smoothed by the loader and used as they are. `weight` broadcasts
    against [N, C] (a [C] vector weighs classes).
    """

    def __init__(
        self, smoothing: float = 0.0, aux_factor: float = 0.0, reduction: str = "mean", weight: Optional[Tensor] = None
    ) -> None:
        super().__init__(reduction, aux_factor)
        self.smoothing = smoothing
        self.weight = weight

    def loss_on(self, logits: Tensor, labels: Tensor) -> Tensor:
        if labels.ndim != logits.ndim:
            num_classes = logits.shape[-1]
            on_value = Tensor(1.0 - self.smoothing + self.smoothing / num_classes, logits.dtype)
            off_value = Tensor(self.smoothing / num_classes, logits.dtype)
            labels = ops.one_hot(labels, num_classes, on_value, off_value)
        labels = labels.astype(logits.dtype)
        return ops.binary_cross_entropy_with_logits(logits, labels, self.weight, reduction=self.reduction)
