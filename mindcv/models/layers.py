"""Small building blocks shared by the model files."""
from typing import List, Optional

from mindspore import Tensor, nn, ops


def make_divisible(value: float, divisor: int = 8, min_value: Optional[int] = None) -> int:
    """Round a channel count to a multiple of `divisor`, never dropping more than 10%."""
    min_value = min_value or divisor
    rounded = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:
        rounded += divisor
    return rounded


def conv_norm_act(
    in_channels: int,
    out_channels: int,
    kernel_size: int = 1,
    stride: int = 1,
    groups: int = 1,
    activation: bool = True,
) -> List[nn.Cell]:
    """Conv (no bias) + BatchNorm (+ ReLU6) as a flat list of cells.

    A list, not a cell, so callers can splice it into one SequentialCell and keep
    MindCV's flat parameter names (`features.1.gamma`, `layers.4.beta`, ...).
    """
    cells = [
        nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride,
            pad_mode="pad",
            padding=kernel_size // 2,
            group=groups,
            has_bias=False,
        ),
        nn.BatchNorm2d(out_channels),
    ]
    if activation:
        cells.append(nn.ReLU6())
    return cells


class Dropout(nn.Cell):
    """Inverted dropout with probability `p`, reproducible from `mindspore.set_seed`.

    MindSpore 2.10's dropout kernel draws its mask in racing CPU threads, so two runs
    with one seed differ and a resumed run cannot repeat an uninterrupted one; a mask
    from `rand_like` repeats exactly.
    """

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def construct(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        keep = ops.rand_like(x) >= self.p
        return x * keep.astype(x.dtype) / (1 - self.p)
