"""AdamW: MindSpore's AdamWeightDecay, plus the fixed loss scale it lacks."""
import mindspore as ms
from mindspore import Tensor, nn


class LossScaledAdamWeightDecay(nn.AdamWeightDecay):
    """`nn.AdamWeightDecay` that divides gradients by `loss_scale` before its update.

    Needed with a fixed loss scale that leaves gradients scaled (as `nn.Momentum`'s
    `loss_scale` handles). Like MindSpore's, the moments are not bias-corrected.
    """

    def __init__(self, params, learning_rate=1e-3, beta1=0.9, beta2=0.999, eps=1e-6, weight_decay=0.0, loss_scale=1.0):
        super().__init__(params, learning_rate, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)
        # weight decay is applied inside the update, after unscaling, so it is not rescaled
        self.loss_scale = float(loss_scale)
        self.reciprocal_scale = Tensor(1.0 / self.loss_scale, ms.float32)
        self.need_scale = self.loss_scale != 1.0

    # the parent's construct is jit-compiled; without jit here PyNative runs this body twice
    @ms.jit(backend="ms_backend")
    def construct(self, gradients):
        return super().construct(self.scale_grad(gradients))
