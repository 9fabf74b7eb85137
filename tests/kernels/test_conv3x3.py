"""mindcv's dense 3x3 convolution kernel (the stem) against MindSpore's Conv2D."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor

import mindcv
from mindcv.models.layers import Conv3x3, conv_norm_act
from tests.kernels.kernel_helpers import InputAndParameterGradients

pytestmark = pytest.mark.skipif(not mindcv.kernels.kernel_available(), reason="no C++ compiler on this machine")


def _outputs_and_gradients(custom: bool, shape: tuple, out_channels: int, stride: int, pad_type: str) -> dict:
    rng = np.random.default_rng(0)
    conv = Conv3x3(shape[1], out_channels, stride, pad_type)
    conv.weight.set_data(Tensor(rng.standard_normal(conv.weight.shape).astype(np.float32)))
    conv.use_custom_kernel(custom)
    assert conv.custom_kernel == custom
    x = Tensor(rng.standard_normal(shape).astype(np.float32))
    y = conv(x).asnumpy()
    dx, dweight = (t.asnumpy() for t in InputAndParameterGradients(conv)(x, Tensor(rng.standard_normal(y.shape).astype(np.float32))))
    return {"y": y, "dx": dx, "dweight": dweight}


# Even and odd sizes at both strides, padding 1 and TensorFlow's SAME (asymmetric at stride 2 on even sizes).
@pytest.mark.parametrize("shape, out_channels, stride, pad_type", [
    ((2, 3, 16, 16), 32, 2, ""), ((2, 3, 15, 9), 8, 2, ""), ((2, 1, 7, 8), 5, 1, ""), ((2, 4, 6, 5), 16, 1, "same"),
    ((3, 3, 16, 12), 32, 2, "same"), ((2, 3, 9, 11), 8, 2, "same"),
])
@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
def test_output_and_gradients_equal_mindspore_convolution(shape, out_channels, stride, pad_type, mode):
    ms.set_context(mode=mode)
    want = _outputs_and_gradients(False, shape, out_channels, stride, pad_type)
    got = _outputs_and_gradients(True, shape, out_channels, stride, pad_type)
    assert got["y"].shape == want["y"].shape
    for name in want:
        np.testing.assert_allclose(got[name], want[name], rtol=1e-5, atol=1e-5, err_msg=name)


def test_the_stem_uses_it_and_other_convolutions_do_not():
    network = mindcv.create_model("mobilenet_v2_035", num_classes=4)
    stems = [cell for _, cell in network.cells_and_names() if isinstance(cell, Conv3x3)]
    assert len(stems) == 1 and stems[0].custom_kernel and stems[0].weight.name == "features.0.weight"
    assert not any(isinstance(cell, Conv3x3) for cell in conv_norm_act(8, 16, 1))
    assert not Conv3x3(3, 8, stride=3).custom_kernel  # strides other than 1 and 2: MindSpore's Conv2D
    half = Conv3x3(3, 8, stride=2).to_float(ms.float16)
    assert half(Tensor(np.ones((1, 3, 8, 8), np.float16))).dtype == ms.float16
