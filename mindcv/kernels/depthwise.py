"""Depthwise 3x3 convolution on the CPU as MindSpore custom operators (forward and both gradients)."""
from functools import lru_cache
from typing import Optional

from mindspore import ops

from .build import build_library

SOURCE = "depthwise_conv.cc"
STRIDES = (1, 2)


def _output_shape(stride: int):
    def infer(x_shape, weight_shape):
        return [x_shape[0], x_shape[1], (x_shape[2] - 1) // stride + 1, (x_shape[3] - 1) // stride + 1]

    return infer


@lru_cache(maxsize=None)
def depthwise_conv3x3(stride: int, same: bool = False) -> Optional[ops.Custom]:
    """`op(x, weight) -> y` for NCHW float32 `x`, `weight` [C, 1, 3, 3], padding 1 (or with `same`
    TensorFlow's SAME padding, computed from the input size) and `stride`, differentiable in graph
    and PyNative mode; None when the kernels cannot be built here."""
    if stride not in STRIDES:
        raise ValueError(f"depthwise kernel supports strides {STRIDES}, got {stride}")
    library = build_library(SOURCE)
    if library is None:
        return None
    # Stride 1 SAME is padding 1; the output shape is the same either way.
    name = f"{stride}Same" if same and stride == 2 else str(stride)
    # The gradients take x and weight for their output shapes (a stride-2 output does not fix the input size).
    grad_input = ops.Custom(f"{library}:DepthwiseBackwardInput{name}", lambda x, w, dy: x, lambda x, w, dy: x, func_type="aot")
    grad_weight = ops.Custom(f"{library}:DepthwiseBackwardWeight{name}", lambda x, w, dy: w, lambda x, w, dy: w, func_type="aot")

    def bprop(x, weight, out, dout):
        return grad_input(x, weight, dout), grad_weight(x, weight, dout)

    return ops.Custom(f"{library}:DepthwiseForward{name}", _output_shape(stride), lambda x, w: x, func_type="aot", bprop=bprop)

