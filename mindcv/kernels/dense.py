"""Dense 3x3 convolution on the CPU as a MindSpore custom operator (forward; MindSpore's own gradients)."""
from functools import lru_cache
from typing import Optional

from mindspore import ops
from mindspore.ops.operations import _grad_ops

from .build import build_library

SOURCE = "dense_conv.cc"
STRIDES = (1, 2)


def _output_shape(stride: int):
    def infer(x_shape, weight_shape):  # padding 1 and SAME give the same size
        return [x_shape[0], weight_shape[0], (x_shape[2] - 1) // stride + 1, (x_shape[3] - 1) // stride + 1]

    return infer


@lru_cache(maxsize=None)
def conv3x3(out_channels: int, stride: int, same: bool = False) -> Optional[ops.Custom]:
    """`op(x, weight) -> y` for NCHW float32 `x`, `weight` [out_channels, C, 3, 3], padding 1 (or with
    `same` TensorFlow's SAME padding) and `stride`, differentiable in graph and PyNative mode; None when
    the kernels cannot be built here."""
    if stride not in STRIDES:
        raise ValueError(f"conv3x3 kernel supports strides {STRIDES}, got {stride}")
    library = build_library(SOURCE)
    if library is None:
        return None
    # The gradients are MindSpore's (oneDNN's backward kernels are fast here; only its forward is not).
    padding = {"pad_mode": "same"} if same else {"pad_mode": "pad", "pad": 1}
    grad_input = ops.Conv2DBackpropInput(out_channels, 3, stride=stride, **padding)
    grad_weight = _grad_ops.Conv2DBackpropFilter(out_channels, 3, stride=(stride, stride), **padding,
                                                 **({} if same else {"pad_list": (1, 1, 1, 1)}))

    def bprop(x, weight, out, dout):
        return grad_input(dout, weight, x.shape), grad_weight(dout, x, weight.shape)

    name = f"{stride}Same" if same else str(stride)
    return ops.Custom(f"{library}:Conv3x3Forward{name}", _output_shape(stride), lambda x, w: x, func_type="aot", bprop=bprop)
