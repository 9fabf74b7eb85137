"""mindcv's fused BatchNorm (+ ReLU6) training kernel against MindSpore's BatchNorm2d and ReLU6."""
import copy

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

import mindcv
from mindcv.engine import NetWithLoss, TrainStep
from mindcv.kernels import build
from mindcv.models.layers import BatchNormAct2d, set_custom_kernels
from tests.kernels.kernel_helpers import InputAndParameterGradients

pytestmark = pytest.mark.skipif(not mindcv.kernels.kernel_available(), reason="no C++ compiler on this machine")


def _train_twice(custom: bool, shape: tuple, relu6: bool) -> dict:
    """Two training-mode calls (moving statistics updated twice), then the gradients."""
    rng = np.random.default_rng(0)
    norm = BatchNormAct2d(shape[1], relu6=relu6)
    # Scales and shifts wide enough that ReLU6 clamps at both ends.
    norm.gamma.set_data(Tensor(rng.uniform(1.5, 4.0, shape[1]).astype(np.float32)))
    norm.beta.set_data(Tensor(rng.uniform(-1.0, 3.0, shape[1]).astype(np.float32)))
    norm.use_custom_kernel(custom)
    norm.set_train(True)
    inputs = [Tensor((rng.standard_normal(shape) * 4 + 2).astype(np.float32)) for _ in range(2)]
    outputs = [norm(x).asnumpy() for x in inputs]
    sens = Tensor(rng.standard_normal(shape).astype(np.float32))
    dx, dgamma, dbeta = (t.asnumpy() for t in InputAndParameterGradients(norm)(inputs[1], sens))
    return {
        "output": outputs[1],
        "moving_mean": norm.moving_mean.asnumpy(),
        "moving_variance": norm.moving_variance.asnumpy(),
        "dx": dx,
        "dgamma": dgamma,
        "dbeta": dbeta,
    }


@pytest.mark.parametrize("relu6", [True, False])
# Planes under 8 values (1x1, 2x2, 2x3) take the channel-block path, larger ones the per-channel one.
@pytest.mark.parametrize("shape", [(2, 3, 5, 5), (4, 16, 3, 3), (3, 8, 1, 1), (5, 6, 2, 2), (2, 5, 2, 3), (8, 2, 7, 6)])
def test_training_outputs_statistics_and_gradients_equal_mindspore(shape, relu6):
    expected, actual = _train_twice(False, shape, relu6), _train_twice(True, shape, relu6)
    if relu6:
        assert 0 < (actual["output"] == 0).mean() < 1 and (actual["output"] == 6).any()
    for name, want in expected.items():
        np.testing.assert_allclose(actual[name], want, rtol=1e-5, atol=1e-5, err_msg=name)


def test_graph_mode_equals_mindspore_and_repeats_bitwise():
    ms.set_context(mode=ms.GRAPH_MODE)
    expected = _train_twice(False, (4, 24, 6, 6), True)
    first, second = _train_twice(True, (4, 24, 6, 6), True), _train_twice(True, (4, 24, 6, 6), True)
    for name, want in expected.items():
        np.testing.assert_allclose(first[name], want, rtol=1e-5, atol=1e-5, err_msg=name)
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


def test_inference_uses_moving_statistics_and_float16_falls_back():
    norm = BatchNormAct2d(4, relu6=True)
    assert norm.custom_kernel
    norm.moving_mean.set_data(Tensor(np.array([0.0, 1.0, 2.0, 3.0], np.float32)))
    norm.moving_variance.set_data(Tensor(np.array([1.0, 4.0, 0.25, 1.0], np.float32)))
    x = np.random.default_rng(0).standard_normal((2, 4, 3, 3)).astype(np.float32) * 5
    mean, var = norm.moving_mean.asnumpy(), norm.moving_variance.asnumpy()
    want = np.clip((x - mean[:, None, None]) / np.sqrt(var[:, None, None] + 1e-5), 0, 6)
    np.testing.assert_allclose(norm.set_train(False)(Tensor(x)).asnumpy(), want, rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(norm.moving_mean.asnumpy(), mean)  # inference leaves them alone
    half = BatchNormAct2d(4, relu6=True).set_train(True)
    assert half(Tensor(x, ms.float16)).dtype == ms.float16


@pytest.mark.parametrize("relu6", [True, False])
@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
@pytest.mark.parametrize("shape", [(3, 6, 4, 5), (3, 6, 2, 2)])  # per-channel and channel-block paths
def test_inference_outputs_and_gradients_equal_mindspore(relu6, mode, shape):
    """In eval mode (moving statistics) the kernel computes MindSpore's BatchNorm (+ ReLU6), and its
    gradients (a network differentiated in eval mode) are MindSpore's too."""
    ms.set_context(mode=mode)
    rng = np.random.default_rng(0)
    x = Tensor((rng.standard_normal(shape) * 4 + 2).astype(np.float32))
    sens = Tensor(rng.standard_normal(shape).astype(np.float32))
    results = []
    for custom in (False, True):
        norm = BatchNormAct2d(shape[1], relu6=relu6)
        norm.gamma.set_data(Tensor(np.linspace(1.5, 4.0, shape[1]).astype(np.float32)))
        norm.beta.set_data(Tensor(np.linspace(-1.0, 3.0, shape[1]).astype(np.float32)))
        norm.moving_mean.set_data(Tensor(np.linspace(-1.0, 2.0, shape[1]).astype(np.float32)))
        norm.moving_variance.set_data(Tensor(np.linspace(0.5, 3.0, shape[1]).astype(np.float32)))
        norm.use_custom_kernel(custom)
        norm.set_train(False)
        results.append([norm(x).asnumpy()] + [g.asnumpy() for g in InputAndParameterGradients(norm)(x, sens)])
    if relu6:
        assert (results[1][0] == 0).any() and (results[1][0] == 6).any()
    for name, want, got in zip(("y", "dx", "dgamma", "dbeta"), *results):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)


def _one_training_step(network: nn.Cell, images: Tensor, labels: Tensor) -> tuple:
    optimizer = nn.SGD(network.trainable_params(), learning_rate=0.1)
    step = TrainStep(NetWithLoss(network, mindcv.create_loss("CE")), optimizer)
    step.set_train(True)
    loss = float(step(images, labels)[0].asnumpy())
    return loss, {p.name: p.asnumpy().copy() for p in network.get_parameters()}


def _update(params: dict, start: dict) -> np.ndarray:
    return np.concatenate([(params[name] - start[name]).ravel() for name in sorted(start) if "moving" not in name])


def test_mobilenet_training_step_matches_mindspore_operators():
    """A full graph-mode training step of a small MobileNetV2 with and without the kernels:
    same loss, same moving statistics, and weight updates that differ less than MindSpore's
    own update moves when the input changes by float rounding (1e-6 relative). Batch
    statistics of a random network amplify rounding (~3% of the update for that input
    change), so a fixed tolerance would be either loose or flaky."""
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(0)
    network = mindcv.create_model("mobilenet_v2_050", num_classes=5, drop_rate=0.0)
    start = {p.name: p.asnumpy().copy() for p in network.get_parameters()}
    reference = set_custom_kernels(copy.deepcopy(network), False)
    perturbed_reference = copy.deepcopy(reference)
    assert sum(isinstance(c, BatchNormAct2d) and c.custom_kernel for _, c in network.cells_and_names()) == 52
    rng = np.random.default_rng(1)
    images = rng.standard_normal((8, 3, 64, 64)).astype(np.float32)
    rounding = (images * (1 + 1e-6 * rng.standard_normal(images.shape))).astype(np.float32)
    labels = Tensor(rng.integers(0, 5, 8).astype(np.int32))
    loss, params = _one_training_step(network, Tensor(images), labels)
    ref_loss, ref_params = _one_training_step(reference, Tensor(images), labels)
    _, perturbed_params = _one_training_step(perturbed_reference, Tensor(rounding), labels)
    assert loss == pytest.approx(ref_loss, rel=1e-5)
    for name in ref_params:
        if "moving" in name:
            np.testing.assert_allclose(params[name], ref_params[name], rtol=1e-3, atol=1e-5, err_msg=name)
    update, ref_update = _update(params, start), _update(ref_params, start)
    own_sensitivity = np.linalg.norm(_update(perturbed_params, start) - ref_update)
    assert np.linalg.norm(update - ref_update) <= own_sensitivity


def test_switching_off_uses_mindspore_operators(fresh_build_cache, monkeypatch):
    monkeypatch.setenv(build.DISABLE_ENV, "0")
    assert not BatchNormAct2d(8, relu6=True).custom_kernel
    norm = set_custom_kernels(nn.SequentialCell([BatchNormAct2d(8)]), True)[0]
    assert not norm.custom_kernel
