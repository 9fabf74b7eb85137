"""Shared by the kernel tests."""
import mindspore as ms
from mindspore import Tensor, nn, ops


class InputAndParameterGradients(nn.Cell):
    """The gradients of <cell(x), sens> for x, then for each trainable parameter of `cell`."""

    def __init__(self, cell: nn.Cell) -> None:
        super().__init__()
        self.cell = cell
        self.grad = ops.GradOperation(get_all=True, get_by_list=True, sens_param=True)
        self.weights = ms.ParameterTuple(cell.trainable_params())

    def construct(self, x: Tensor, sens: Tensor) -> tuple:
        (dx,), dparams = self.grad(self.cell, self.weights)(x, sens)
        return (dx,) + dparams
