"""Dropout whose masks are a pure function of a key the host sets, so any training step can be repeated alone.

MindSpore 2.10 has no CPU random kernel that takes its seed as an input: `rand_like`'s
kernel seeds itself when the graph is compiled and then advances once per launch, so in
graph mode the mask of step N depends on how many steps the process ran before (a run
resumed in the middle of an epoch would draw other masks than an uninterrupted one), and
MindSpore's dropout kernel draws in racing threads. Here the masks are hashed from
(key, call counter, element index) with integer operations, which are exact on every
backend and thread count: `seed_dropout(key)` before a step makes its masks depend on
`key` alone. Without it, the counter still advances per call, so each call draws a new mask.
"""
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops

_MASK_32 = 0xFFFFFFFF
# Multiplier of a well-tested 32-bit integer hash (xor-shift-multiply, two rounds); below 2**31 so
# that products of 32-bit values stay inside int64 (no overflow on any backend).
_HASH_MULTIPLIER = 0x45D9F3B
_UNIFORM_BITS = 24  # float32 holds 24 significant bits: uniform values k / 2**24 are exact


def _hash32(x: Tensor) -> Tensor:
    """A bijective mix of 32-bit values held in an int64 tensor (values in [0, 2**32))."""
    for _ in range(2):
        x = ops.bitwise_and(ops.bitwise_xor(x, ops.bitwise_right_shift(x, 16)) * _HASH_MULTIPLIER, _MASK_32)
    return ops.bitwise_xor(x, ops.bitwise_right_shift(x, 16))


@ms.jit_class
class _DropoutKey:
    """The host-set key and the number of dropout calls since it was set (graph-mode compatible state)."""

    def __init__(self) -> None:
        self.key = Parameter(Tensor(0, ms.int64), name="dropout_key", requires_grad=False)
        self.calls = Parameter(Tensor(0, ms.int64), name="dropout_calls", requires_grad=False)

    def next(self) -> Tensor:
        """A distinct well-mixed 32-bit key for each call."""
        calls = self.calls.value()
        key = ops.depend(self.key.value(), ops.assign_add(self.calls, Tensor(1, ms.int64)))
        return _hash32(ops.bitwise_xor(key, _hash32(calls)))


_KEY = _DropoutKey()


def seed_dropout(key: int) -> None:
    """Make the following dropout masks a function of `key` (an int in [0, 2**32)) and their call order."""
    _KEY.key.set_data(Tensor(key & _MASK_32, ms.int64))
    _KEY.calls.set_data(Tensor(0, ms.int64))


def uniform_from_key(shape: tuple, key: Tensor) -> Tensor:
    """float32 values k / 2**24, uniform in [0, 1), hashed from `key` and each element's index."""
    size = 1
    for side in shape:
        size *= side
    index = ops.arange(size, dtype=ms.int64).reshape(shape)
    bits = _hash32(ops.bitwise_xor(_hash32(index), key))
    return ops.bitwise_right_shift(bits, 32 - _UNIFORM_BITS).astype(ms.float32) * (1.0 / 2**_UNIFORM_BITS)


class Dropout(nn.Cell):
    """Inverted dropout with probability `p`; masks from `seed_dropout`'s key (see the module doc)."""

    def __init__(self, p: float = 0.5) -> None:
        super().__init__()
        if not 0 <= p < 1:
            raise ValueError(f"dropout probability must be in [0, 1), got {p}")
        self.p = p

    def construct(self, x: Tensor) -> Tensor:
        if not self.training or self.p == 0:
            return x
        keep = uniform_from_key(x.shape, _KEY.next()) >= self.p
        return x * keep.astype(x.dtype) / (1 - self.p)
