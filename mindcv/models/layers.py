"""Small building blocks shared by the model files."""
from typing import List, Optional, Tuple

import mindspore as ms
from mindspore import Tensor, nn, ops

from ..kernels import batch_norm_inference, batch_norm_train, conv3x3, depthwise_conv3x3, kernel_available
from ..kernels.depthwise import STRIDES as KERNEL_STRIDES


def make_divisible(value: float, divisor: int = 8, min_value: Optional[int] = None) -> int:
    """Round a channel count to a multiple of `divisor`, never dropping more than 10%."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


# "" pads k // 2 on every side (MindCV, PyTorch); "same" is TensorFlow's SAME: the total padding
# follows from the input size, and an odd total puts the extra row/column at the bottom/right
# (a stride-2 3x3 convolution on an even size pads 0 above and 1 below). MindSpore's
# pad_mode="same" computes exactly that at run time.
PAD_TYPES = ("", "same")


def _padding(pad_type: str, kernel_size: int) -> Tuple[str, int]:
    """(pad_mode, padding) of nn.Conv2d for `pad_type`."""
    if pad_type not in PAD_TYPES:
        raise ValueError(f"pad_type must be one of {PAD_TYPES}, got {pad_type!r}")
    return ("same", 0) if pad_type == "same" else ("pad", kernel_size // 2)


def conv_norm_act(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 1,
    stride: int = 1,
    groups: int = 1,
    activation: bool = True,
    pad_type: str = "",
    bn_eps: float = 1e-5,
) -> List[nn.Cell]:
    """Conv (no bias) + BatchNorm (+ ReLU6) as a flat list of cells.

    A list, not a cell, so callers can splice it into one SequentialCell and keep
    MindCV's flat parameter names (`features.1.gamma`, `layers.4.beta`, ...). The
    ReLU6 runs inside the BatchNorm cell (one fused kernel on the CPU); an Identity
    holds its place so the indices after it stay MindCV's. `pad_type` (PAD_TYPES) and
    `bn_eps` let weights trained elsewhere (TensorFlow: "same", 1e-3) compute as there.
    """
    pad_mode, padding = _padding(pad_type, kernel_size)
    if groups == in_channels == out_channels and groups > 1:
        conv = DepthwiseConv2d(in_channels, kernel_size, stride, pad_type)
    elif groups == 1 and kernel_size == 3:
        conv = Conv3x3(in_channels, out_channels, stride, pad_type)
    else:
        conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, pad_mode=pad_mode, padding=padding, group=groups, has_bias=False
        )
    cells = [conv, BatchNormAct2d(out_channels, relu6=activation, eps=bn_eps)]
    if activation:
        cells.append(nn.Identity())
    return cells


class DepthwiseConv2d(nn.Conv2d):
    """Depthwise convolution (one filter per channel, no bias), a drop-in `nn.Conv2d`.

    On the CPU a 3x3 float32 convolution with stride 1 or 2 runs on mindcv's C++
    kernel (`mindcv.kernels`), built on first use; MindSpore's own grouped convolution
    is 3-20x slower there. Elsewhere, or after `use_custom_kernel(False)`, it is `nn.Conv2d`.
    Choose before the cell's first call: graph mode compiles the choice in.
    """

    def __init__(self, channels: int, kernel_size: int = 3, stride: int = 1, pad_type: str = "") -> None:
        pad_mode, padding = _padding(pad_type, kernel_size)
        super().__init__(channels, channels, kernel_size, stride, pad_mode=pad_mode, padding=padding, group=channels, has_bias=False)
        self.use_custom_kernel(True)

    def use_custom_kernel(self, enabled: bool) -> None:
        """Run on mindcv's kernel where it applies (`enabled`), else on MindSpore's convolution."""
        stride = self.stride[0]
        applies = self.kernel_size == (3, 3) and stride == self.stride[1] and stride in KERNEL_STRIDES
        self.custom_kernel = enabled and applies and kernel_available()

    def construct(self, x: Tensor) -> Tensor:
        if self.custom_kernel and x.dtype == ms.float32:
            # Resolved while compiling (a cached primitive, not an attribute: cells holding
            # Custom primitives cannot be deep-copied, and fold_batchnorm copies).
            return depthwise_conv3x3(self.stride[0], self.pad_mode == "same")(x, self.weight)
        return self.conv2d(x, self.weight)


class Conv3x3(nn.Conv2d):
    """Dense 3x3 convolution without bias (MobileNetV2's stem), a drop-in `nn.Conv2d`.

    On the CPU, with stride 1 or 2 in float32, the forward pass runs on mindcv's C++ kernel
    (`mindcv.kernels`): MindSpore's Conv2D hands it to oneDNN's reference loop, 10x slower
    (half of the network's forward time at 32 px). The gradients stay MindSpore's.
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, pad_type: str = "") -> None:
        pad_mode, padding = _padding(pad_type, 3)
        super().__init__(in_channels, out_channels, 3, stride, pad_mode=pad_mode, padding=padding, has_bias=False)
        self.use_custom_kernel(True)

    def use_custom_kernel(self, enabled: bool) -> None:
        """Run on mindcv's kernel where it applies (`enabled`), else on MindSpore's convolution."""
        self.custom_kernel = enabled and self.stride[0] == self.stride[1] in KERNEL_STRIDES and kernel_available()

    def construct(self, x: Tensor) -> Tensor:
        if self.custom_kernel and x.dtype == ms.float32:
            return conv3x3(self.out_channels, self.stride[0], self.pad_mode == "same")(x, self.weight)
        return self.conv2d(x, self.weight)


class BatchNormAct2d(nn.BatchNorm2d):
    """`nn.BatchNorm2d` followed by ReLU6 when `relu6`; parameters and statistics as in MindSpore.

    On the CPU in float32 it runs on mindcv's kernels (`mindcv.kernels`): with batch
    statistics (training), normalisation, clamp and the moving-average update are one
    kernel instead of four MindSpore operators, each a full pass over memory (the moving
    statistics follow MindSpore's rule: unbiased batch variance, `momentum` the weight
    kept); with the moving statistics (inference), normalisation and clamp are one pass,
    4x faster than MindSpore's BatchNorm and ReLU6. Other devices and float16 use
    MindSpore's operators.
    """

    def __init__(self, num_features: int, relu6: bool = False, eps: float = 1e-5, momentum: float = 0.9) -> None:
        super().__init__(num_features, eps=eps, momentum=momentum)
        self.relu6 = relu6
        self.use_custom_kernel(True)

    def use_custom_kernel(self, enabled: bool) -> None:
        """Run on mindcv's kernels (`enabled`) or on MindSpore's operators."""
        self.custom_kernel = enabled and kernel_available()

    def construct(self, x: Tensor) -> Tensor:
        batch_statistics = self.use_batch_statistics or (self.use_batch_statistics is None and self.training)
        if self.custom_kernel and x.dtype == ms.float32:
            # nn.BatchNorm2d stores 1 - momentum: the weight of the new batch.
            factors = Tensor([self.eps, self.momentum], ms.float32)
            if not batch_statistics:
                return batch_norm_inference(self.relu6)(x, self.gamma, self.beta, self.moving_mean, self.moving_variance, factors)
            y, _, _, moving_mean, moving_variance = batch_norm_train(self.relu6)(
                x, self.gamma, self.beta, self.moving_mean, self.moving_variance, factors
            )
            ops.assign(self.moving_mean, moving_mean)
            ops.assign(self.moving_variance, moving_variance)
            return y
        y = super().construct(x)
        return ops.relu6(y) if self.relu6 else y

    def extend_repr(self) -> str:
        return f"{super().extend_repr()}, relu6={self.relu6}"


def set_custom_kernels(network: nn.Cell, enabled: bool) -> nn.Cell:
    """Switch mindcv's CPU kernels on or off in every cell of `network` (before it first runs);
    exports switch them off, since their graphs must hold MindSpore's standard operators only."""
    for _, cell in network.cells_and_names():
        if isinstance(cell, (DepthwiseConv2d, Conv3x3, BatchNormAct2d)):
            cell.use_custom_kernel(enabled)
    return network
