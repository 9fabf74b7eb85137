"""The compiled train step: loss scaling, overflow skipping, accumulation, clipping, EMA, AMP."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv.engine import NetWithLoss, TrainStep
from mindcv.engine.train_step import EMA_WARMUP_UPDATES

RNG = np.random.default_rng(0)
X = RNG.standard_normal((8, 4)).astype(np.float32)
Y = np.array([0, 1, 2, 0, 1, 2, 0, 1], np.int32)


def _net() -> nn.Cell:
    ms.set_seed(0)
    return nn.SequentialCell([nn.Dense(4, 8), nn.ReLU(), nn.Dense(8, 3)])


def _step(net: nn.Cell, lr: float = 0.1, **kwargs) -> TrainStep:
    return TrainStep(NetWithLoss(net, nn.CrossEntropyLoss()), nn.SGD(net.trainable_params(), lr), **kwargs)


def _weights(net: nn.Cell) -> list:
    return [p.asnumpy().copy() for p in net.trainable_params()]


def _gradients(net: nn.Cell, x: np.ndarray, y: np.ndarray) -> list:
    loss_net = NetWithLoss(net, nn.CrossEntropyLoss())
    grad = ms.grad(loss_net, grad_position=None, weights=net.trainable_params())
    return [g.asnumpy() for g in grad(ms.Tensor(x), ms.Tensor(y))]


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
def test_a_fixed_loss_scale_does_not_change_the_update(mode):
    ms.set_context(mode=mode)
    plain, scaled = _net(), _net()
    expected = [w - 0.1 * g for w, g in zip(_weights(plain), _gradients(plain, X, Y))]
    _step(plain)(ms.Tensor(X), ms.Tensor(Y))
    loss, finite, scale = _step(scaled, loss_scale=1024.0)(ms.Tensor(X), ms.Tensor(Y))
    assert bool(finite.asnumpy()) and float(scale.asnumpy()) == 1024.0
    for a, b, e in zip(_weights(plain), _weights(scaled), expected):
        np.testing.assert_allclose(a, e, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b, e, rtol=1e-5, atol=1e-6)


def test_dynamic_scale_skips_overflowing_steps_and_counts_them():
    net = _net()
    before = _weights(net)
    step = _step(net, loss_scale=1024.0, dynamic_loss_scale=True)
    poisoned = X.copy()
    poisoned[0, 0] = np.inf
    loss, finite, _ = step(ms.Tensor(poisoned), ms.Tensor(Y))
    assert not np.isfinite(loss.asnumpy()) and not bool(finite.asnumpy())
    assert int(step.skipped_steps.asnumpy()) == 1
    assert float(step.loss_scale.asnumpy()) == 512.0
    for a, b in zip(before, _weights(net)):
        np.testing.assert_array_equal(a, b)


def test_dynamic_scale_grows_after_a_window_of_finite_steps():
    step = _step(_net(), loss_scale=8.0, dynamic_loss_scale=True, scale_window=3)
    for _ in range(3):
        step(ms.Tensor(X), ms.Tensor(Y))
    assert float(step.loss_scale.asnumpy()) == 16.0 and int(step.skipped_steps.asnumpy()) == 0


def test_accumulating_two_half_batches_equals_one_full_batch():
    full, halves = _net(), _net()
    _step(full)(ms.Tensor(X), ms.Tensor(Y))
    step = _step(halves, accumulation_steps=2)
    step(ms.Tensor(X[:4]), ms.Tensor(Y[:4]))
    untouched = _weights(halves)
    step(ms.Tensor(X[4:]), ms.Tensor(Y[4:]))
    np.testing.assert_array_equal(untouched[0], _weights(_net())[0])  # no update after the first half
    for a, b in zip(_weights(full), _weights(halves)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_gradients_are_clipped_to_the_global_norm():
    net = _net()
    grads = _gradients(net, X, Y)
    norm = np.sqrt(sum((g**2).sum() for g in grads))
    expected = [w - 0.1 * g * (0.01 / norm) for w, g in zip(_weights(net), grads)]
    _step(net, clip_norm=0.01)(ms.Tensor(X), ms.Tensor(Y))
    for a, e in zip(_weights(net), expected):
        np.testing.assert_allclose(a, e, rtol=1e-4, atol=1e-6)


def test_ema_follows_mindcvs_warm_up_formula():
    net = _net()
    start = _weights(net)
    step = _step(net, ema_decay=0.9)
    step(ms.Tensor(X), ms.Tensor(Y))
    decay = 0.9 * (1 - np.exp(-1 / EMA_WARMUP_UPDATES))
    for ema, w0, w1 in zip(step.ema_weights, start, _weights(net)):
        np.testing.assert_allclose(ema.asnumpy(), decay * w0 + (1 - decay) * w1, rtol=1e-5, atol=1e-7)
    assert [p.name for p in step.ema_weights] == ["ema." + p.name for p in net.trainable_params()]


@pytest.mark.parametrize("level", ["O1", "O2", "O3"])
def test_mixed_precision_levels_train_on_the_cpu(level):
    net = ms.amp.auto_mixed_precision(_net(), level)
    before = _weights(net)
    loss, finite, _ = _step(net, loss_scale=128.0)(ms.Tensor(X), ms.Tensor(Y))
    assert loss.dtype == ms.float32 and bool(finite.asnumpy())
    assert any(not np.array_equal(a, b) for a, b in zip(before, _weights(net)))
