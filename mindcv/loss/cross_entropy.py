"""Softmax cross entropy with label smoothing, for class indices and soft targets."""
from typing import Optional

from mindspore import Tensor, ops

from .aux_logits import AuxLogitsLoss


class CrossEntropySmooth(AuxLogitsLoss):
    """Cross entropy on logits [N, C] (MindSpore's `ops.cross_entropy`, PyTorch semantics).

    Labels are either class indices [N] (int), smoothed here by `smoothing`, or class
    probabilities [N, C] (float, e.g. from mixup/cutmix), taken as they are because the
    data loader has already smoothed them. `weight` [C] rescales each class.
    """

    def __init__(
        self, smoothing: float = 0.0, aux_factor: float = 0.0, reduction: str = "mean", weight: Optional[Tensor] = None
    ) -> None:
        super().__init__(reduction, aux_factor)
        self.smoothing = smoothing
        self.weight = weight

    def loss_on(self, logits: Tensor, labels: Tensor) -> Tensor:
        # ndim is static, so graph mode compiles only the branch for the label layout it sees
        if labels.ndim == logits.ndim:
            return ops.cross_entropy(logits, labels, self.weight, reduction=self.reduction)
        return ops.cross_entropy(logits, labels, self.weight, reduction=self.reduction, label_smoothing=self.smoothing)
