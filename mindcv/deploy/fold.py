"""Fold BatchNorm into the convolution before it, for inference graphs without BN."""
import copy
from typing import List

import numpy as np
from mindspore import Tensor, nn


def _folded_conv(conv: nn.Conv2d, norm: nn.BatchNorm2d) -> nn.Conv2d:
    """A Conv2d with bias computing norm(conv(x)) with the BN's moving statistics."""
    # float64 so the folded weights round once, not at every step.
    scale = norm.gamma.asnumpy().astype(np.float64) / np.sqrt(norm.moving_variance.asnumpy().astype(np.float64) + norm.eps)
    bias = norm.beta.asnumpy() - norm.moving_mean.asnumpy() * scale
    if conv.has_bias:
        bias = bias + conv.bias.asnumpy() * scale
    weight = conv.weight.asnumpy() * scale.reshape(-1, 1, 1, 1)
    folded = nn.Conv2d(
        conv.in_channels,
        conv.out_channels,
        conv.kernel_size,
        conv.stride,
        pad_mode=conv.pad_mode,
        padding=conv.padding,
        dilation=conv.dilation,
        group=conv.group,
        has_bias=True,
        data_format=conv.data_format,
    )
    dtype = conv.weight.dtype
    folded.weight.set_data(Tensor(weight.astype(np.float32), dtype=dtype))
    folded.bias.set_data(Tensor(bias.astype(np.float32), dtype=dtype))
    return folded


def fold_batchnorm(network: nn.Cell) -> nn.Cell:
    """An eval-mode copy of `network` with each BatchNorm2d folded into the Conv2d before it.

    Within every SequentialCell, a Conv2d directly followed by a BatchNorm2d becomes
    one Conv2d with bias (weights scaled by gamma / sqrt(moving_variance + eps)) and
    the BatchNorm becomes an Identity (a ReLU6 if it applied one), so parameter
    indices keep their names. The copy
    computes what `network` computes in eval mode; `network` itself is unchanged.
    """
    folded = copy.deepcopy(network)
    sequences: List[nn.SequentialCell] = [c for _, c in folded.cells_and_names() if isinstance(c, nn.SequentialCell)]
    for sequence in sequences:
        for i in range(len(sequence) - 1):
            if isinstance(sequence[i], nn.Conv2d) and isinstance(sequence[i + 1], nn.BatchNorm2d):
                norm = sequence[i + 1]
                sequence[i] = _folded_conv(sequence[i], norm)
                sequence[i + 1] = nn.ReLU6() if getattr(norm, "relu6", False) else nn.Identity()
    folded.set_train(False)
    return folded
