"""mindcv's C++ depthwise kernel against MindSpore's grouped convolution."""
import copy
import logging

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn, ops

import mindcv
from mindcv.engine import NetWithLoss
from mindcv.kernels import build, depthwise
from mindcv.models.layers import DepthwiseConv2d, set_custom_kernels
from tests.kernels.kernel_helpers import InputAndParameterGradients

pytestmark = pytest.mark.skipif(not mindcv.kernels.kernel_available(), reason="no C++ compiler on this machine")


def _run(custom: bool, shape: tuple, stride: int, seed: int = 0, pad_type: str = "") -> list:
    rng = np.random.default_rng(seed)
    conv = DepthwiseConv2d(shape[1], 3, stride, pad_type)
    conv.weight.set_data(Tensor(rng.standard_normal((shape[1], 1, 3, 3)).astype(np.float32)))
    conv.use_custom_kernel(custom)
    x = Tensor(rng.standard_normal(shape).astype(np.float32))
    out_shape = (shape[0], shape[1], (shape[2] - 1) // stride + 1, (shape[3] - 1) // stride + 1)
    sens = Tensor(rng.standard_normal(out_shape).astype(np.float32))
    return [conv(x).asnumpy()] + [t.asnumpy() for t in InputAndParameterGradients(conv)(x, sens)]


@pytest.mark.parametrize(
    "shape, stride",
    [((2, 3, 5, 5), 1), ((2, 3, 5, 7), 2), ((3, 4, 6, 6), 2), ((1, 8, 1, 1), 1), ((2, 8, 1, 1), 2), ((2, 4, 3, 1), 2),
     ((2, 16, 2, 3), 2), ((4, 5, 9, 4), 1), ((3, 6, 2, 2), 1), ((2, 5, 4, 4), 2)],  # the last two: tap-table outputs (<= 4 values)
)
def test_output_and_gradients_equal_grouped_convolution(shape, stride):
    expected = _run(False, shape, stride)
    actual = _run(True, shape, stride)
    for name, want, got in zip(("output", "input gradient", "weight gradient"), expected, actual):
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("shape, stride", [((2, 3, 6, 8), 2), ((2, 3, 5, 6), 2), ((3, 4, 7, 7), 2), ((2, 8, 1, 2), 2), ((2, 3, 4, 5), 1), ((2, 3, 4, 3), 2)])
def test_tensorflow_same_padding_equals_grouped_convolution(shape, stride):
    """SAME pads 0 before an even size at stride 2 (1 after it), 1 on both sides of an odd one."""
    expected = _run(False, shape, stride, pad_type="same")
    actual = _run(True, shape, stride, pad_type="same")
    for name, want, got in zip(("output", "input gradient", "weight gradient"), expected, actual):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5, err_msg=name)
    if stride == 2 and shape[2] % 2 == 0:  # and it is not padding 1 there
        assert np.abs(_run(True, shape, stride)[0] - actual[0]).max() > 0.1


def test_graph_mode_equals_grouped_convolution_and_repeats_bitwise():
    ms.set_context(mode=ms.GRAPH_MODE)
    expected = _run(False, (4, 24, 12, 12), 2)
    first, second = _run(True, (4, 24, 12, 12), 2), _run(True, (4, 24, 12, 12), 2)
    for want, got, again in zip(expected, first, second):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
        np.testing.assert_array_equal(got, again)


class _WeightGradients(nn.Cell):
    def __init__(self, network: nn.Cell) -> None:
        super().__init__()
        self.net_with_loss = NetWithLoss(network, mindcv.create_loss("CE"))
        self.weights = ms.ParameterTuple(network.trainable_params())
        self.grad = ops.GradOperation(get_by_list=True)

    def construct(self, images: Tensor, labels: Tensor) -> tuple:
        return self.grad(self.net_with_loss, self.weights)(images, labels)


def test_mobilenet_gradients_match_with_and_without_the_kernel():
    """Loss gradients of every weight of the whole network, with BatchNorm on its moving
    statistics (batch statistics of a random network amplify float rounding: an input
    change of 1e-6 moves its gradients by ~1%, whichever convolution runs)."""
    ms.set_context(mode=ms.GRAPH_MODE)
    ms.set_seed(0)
    network = mindcv.create_model("mobilenet_v2_050", num_classes=5, drop_rate=0.0)
    reference = set_custom_kernels(copy.deepcopy(network), False)
    assert sum(isinstance(c, DepthwiseConv2d) and c.custom_kernel for _, c in network.cells_and_names()) == 17
    assert not any(isinstance(c, DepthwiseConv2d) and c.custom_kernel for _, c in reference.cells_and_names())
    rng = np.random.default_rng(1)
    images = Tensor(rng.standard_normal((4, 3, 64, 64)).astype(np.float32))
    labels = Tensor(rng.integers(0, 5, 4).astype(np.int32))
    names = [p.name for p in network.trainable_params()]
    grads, ref_grads = (_WeightGradients(net.set_train(False))(images, labels) for net in (network, reference))
    for name, got, want in zip(names, grads, ref_grads):
        want = want.asnumpy()
        np.testing.assert_allclose(got.asnumpy(), want, rtol=0, atol=1e-4 * np.abs(want).max() + 1e-12, err_msg=name)


def test_other_shapes_and_dtypes_use_mindspore_convolution():
    assert not DepthwiseConv2d(8, 5, 1).custom_kernel
    assert not DepthwiseConv2d(8, 3, 3).custom_kernel
    conv = DepthwiseConv2d(8, 3, 1)
    conv.to_float(ms.float16)
    x = Tensor(np.ones((1, 8, 4, 4), np.float16))
    assert conv(x).dtype == ms.float16


def test_builds_once_into_the_cache_atomically(fresh_build_cache):
    library = build.build_library(depthwise.SOURCE)
    assert library.parent == fresh_build_cache and library.suffix == ".so"
    assert [p.name for p in fresh_build_cache.iterdir()] == [library.name]  # no temporary left
    build.build_library.cache_clear()
    mtime = library.stat().st_mtime_ns
    assert build.build_library(depthwise.SOURCE) == library and library.stat().st_mtime_ns == mtime


def test_missing_compiler_falls_back_with_a_warning(fresh_build_cache, monkeypatch, caplog):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    monkeypatch.delenv(build.REQUIRE_ENV, raising=False)
    # Listen on the module's logger itself: train.py's logging setup (run in-process by
    # other tests) stops mindcv's records from reaching the root logger caplog watches.
    logger = logging.getLogger(build.__name__)
    logger.addHandler(caplog.handler)
    try:
        assert build.build_library(depthwise.SOURCE) is None
    finally:
        logger.removeHandler(caplog.handler)
    assert "could not compile depthwise_conv.cc" in caplog.text
    assert not DepthwiseConv2d(8, 3, 1).custom_kernel
    assert not any(fresh_build_cache.glob("*"))


def test_missing_compiler_is_an_error_when_the_kernels_are_required(fresh_build_cache, monkeypatch):
    monkeypatch.setenv("CXX", "/nonexistent/c++")
    monkeypatch.setenv(build.REQUIRE_ENV, "1")
    with pytest.raises(mindcv.kernels.KernelBuildError, match="could not compile depthwise_conv.cc with /nonexistent/c"):
        build.build_library(depthwise.SOURCE)


def test_kernels_can_be_switched_off(fresh_build_cache, monkeypatch):
    monkeypatch.setenv(build.DISABLE_ENV, "0")
    assert not mindcv.kernels.kernel_available()
    assert not DepthwiseConv2d(8, 3, 2).custom_kernel
