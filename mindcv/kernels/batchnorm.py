"""Training-mode BatchNorm (+ ReLU6) on the CPU as MindSpore custom operators (forward and gradient)."""
from functools import lru_cache
from typing import Optional

from mindspore import ops

from .build import build_library

SOURCE = "batchnorm_act.cc"


@lru_cache(maxsize=None)
def batch_norm_train(relu6: bool) -> Optional[ops.Custom]:
    """`op(x, gamma, beta, eps) -> (y, mean, invstd, unbiased_var)` for NCHW float32 `x`,
    normalising with the batch's statistics (`eps` a [1] tensor), then clamping to [0, 6]
    when `relu6`; differentiable in x, gamma and beta. None when the kernels cannot be built.
    """
    library = build_library(SOURCE)
    if library is None:
        return None
    name = "BatchNormReLU6" if relu6 else "BatchNorm"
    gradient = ops.Custom(
        f"{library}:{name}Backward",
        lambda x, gamma, beta, mean, invstd, dy: (x, gamma, gamma),
        lambda x, gamma, beta, mean, invstd, dy: (x, gamma, gamma),
        func_type="aot",
    )

    def bprop(x, gamma, beta, eps, out, dout):
        # The statistics feed only the moving averages, which take no gradient.
        dx, dgamma, dbeta = gradient(x, gamma, beta, out[1], out[2], dout[0])
        return dx, dgamma, dbeta, ops.zeros_like(eps)

    return ops.Custom(
        f"{library}:{name}Forward",
        lambda x, gamma, beta, eps: (x, gamma, gamma, gamma),
        lambda x, gamma, beta, eps: (x, gamma, gamma, gamma),
        func_type="aot",
        bprop=bprop,
    )
