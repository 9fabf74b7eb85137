"""Size and cost of a network: parameter counts and multiply-adds."""
from typing import Dict, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import nn


def count_params(network: nn.Cell) -> Tuple[int, int]:
    """(trainable, total) parameter counts; total includes BN moving statistics."""
    trainable = sum(int(np.prod(p.shape)) for p in network.trainable_params())
    total = sum(int(np.prod(p.shape)) for p in network.get_parameters())
    return trainable, total


def count_macs(network: nn.Cell, input_size: Sequence[int] = (3, 224, 224)) -> int:
    """Multiply-adds of convolutions and dense layers for one image of `input_size` (C, H, W).

    Runs one forward pass in PyNative mode with hooks that read each layer's output shape.
    """
    macs = []

    def conv_hook(cell: nn.Conv2d, inputs, output) -> None:
        k_h, k_w = cell.kernel_size
        macs.append(int(np.prod(output.shape[1:])) * (cell.in_channels // cell.group) * k_h * k_w)

    def dense_hook(cell: nn.Dense, inputs, output) -> None:
        macs.append(cell.in_channels * cell.out_channels)

    handles = []
    for _, cell in network.cells_and_names():
        if isinstance(cell, nn.Conv2d):
            handles.append(cell.register_forward_hook(conv_hook))
        elif isinstance(cell, nn.Dense):
            handles.append(cell.register_forward_hook(dense_hook))
    previous_mode = ms.get_context("mode")
    was_training = network.training
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        network.set_train(False)
        network(ms.Tensor(np.zeros((1, *input_size), np.float32)))
    finally:
        for handle in handles:
            handle.remove()
        network.set_train(was_training)
        ms.set_context(mode=previous_mode)
    return sum(macs)


def model_summary(network: nn.Cell, input_size: Sequence[int] = (3, 224, 224)) -> Dict[str, float]:
    """Parameter counts and MACs in one dict, for printing."""
    trainable, total = count_params(network)
    return {"trainable_params": trainable, "total_params": total, "macs": count_macs(network, input_size)}
