"""BatchNorm (+ ReLU6) on the CPU as MindSpore custom operators: training mode (forward and gradient), inference."""
from functools import lru_cache
from typing import Optional

from mindspore import ops

from .build import build_library

SOURCE = "batchnorm_act.cc"


@lru_cache(maxsize=None)
def batch_norm_train(relu6: bool) -> Optional[ops.Custom]:
    """`op(x, gamma, beta, moving_mean, moving_variance, factors) -> (y, mean, invstd,
    new_moving_mean, new_moving_variance)` for NCHW float32 `x`: normalises with the batch's
    statistics, clamps to [0, 6] when `relu6`, and moves the moving statistics towards the
    batch's by `momentum` (`factors` = [eps, momentum], momentum the weight of the batch).
    Differentiable in x, gamma and beta. None when the kernels cannot be built.
    """
    library = build_library(SOURCE)
    if library is None:
        return None
    name = "BatchNormReLU6" if relu6 else "BatchNorm"

    def gradient_outputs(x, gamma, *_):  # dx, dgamma, dbeta: shapes and dtypes
        return x, gamma, gamma

    gradient = ops.Custom(f"{library}:{name}Backward", gradient_outputs, gradient_outputs, func_type="aot")

    def bprop(x, gamma, beta, moving_mean, moving_variance, factors, out, dout):
        # Only y carries a gradient: the statistics go to the moving averages.
        dx, dgamma, dbeta = gradient(x, gamma, beta, out[1], out[2], dout[0])
        return dx, dgamma, dbeta, ops.zeros_like(moving_mean), ops.zeros_like(moving_variance), ops.zeros_like(factors)

    def outputs(x, gamma, *_):  # y, mean, invstd, moving mean, moving variance
        return x, gamma, gamma, gamma, gamma

    return ops.Custom(f"{library}:{name}Forward", outputs, outputs, func_type="aot", bprop=bprop)


@lru_cache(maxsize=None)
def batch_norm_inference(relu6: bool) -> Optional[ops.Custom]:
    """`op(x, gamma, beta, moving_mean, moving_variance, factors) -> y` for NCHW float32 `x`: normalises
    with the moving statistics (`factors` = [eps, momentum], as for `batch_norm_train`), clamps to [0, 6]
    when `relu6`. Differentiable in x, gamma and beta. None when the kernels cannot be built.
    """
    library = build_library(SOURCE)
    if library is None:
        return None
    name = "BatchNormReLU6" if relu6 else "BatchNorm"

    def bprop(x, gamma, beta, moving_mean, moving_variance, factors, out, dout):
        # Rarely taken (gradients through a network in eval mode), so MindSpore's operators suffice.
        invstd = ops.rsqrt(moving_variance + factors[0]).reshape(1, -1, 1, 1)
        g = dout * ops.logical_and(out > 0, out < 6).astype(dout.dtype) if relu6 else dout
        xhat = (x - moving_mean.reshape(1, -1, 1, 1)) * invstd
        dx = g * gamma.reshape(1, -1, 1, 1) * invstd
        return (dx, (g * xhat).sum((0, 2, 3)), g.sum((0, 2, 3)), ops.zeros_like(moving_mean),
                ops.zeros_like(moving_variance), ops.zeros_like(factors))

    def output(x, *_):
        return x

    return ops.Custom(f"{library}:{name}Inference", output, output, func_type="aot", bprop=bprop)
