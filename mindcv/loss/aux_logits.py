"""Base of the classification losses: adds the loss of auxiliary heads (Inception-style)."""
from mindspore import Tensor, nn


class AuxLogitsLoss(nn.LossBase):
    """`loss(main) + aux_factor * sum(loss(aux))` when a network returns a tuple of logits.

    Subclasses implement `loss_on(logits, labels)` for one head.
    """

    def __init__(self, reduction: str = "mean", aux_factor: float = 0.0) -> None:
        super().__init__(reduction)
        self.reduction = reduction
        self.aux_factor = aux_factor

    def loss_on(self, logits: Tensor, labels: Tensor) -> Tensor:
        raise NotImplementedError

    def construct(self, logits, labels):
        if not isinstance(logits, tuple):
            return self.loss_on(logits, labels)
        loss = self.loss_on(logits[0], labels)
        if self.aux_factor > 0:
            for aux_logits in logits[1:]:
                loss = loss + self.aux_factor * self.loss_on(aux_logits, labels)
        return loss
