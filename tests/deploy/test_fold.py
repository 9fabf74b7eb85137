import numpy as np
from random_network import IMAGE_SHAPE

import mindspore as ms
from mindspore import nn
from mindcv.deploy import fold_batchnorm


def count(network: nn.Cell, kind: type) -> int:
    return sum(isinstance(cell, kind) for _, cell in network.cells_and_names())


def outputs(network: nn.Cell, x: np.ndarray) -> np.ndarray:
    return network(ms.Tensor(x)).asnumpy()


def test_folded_copy_has_no_batchnorm_and_gives_the_same_logits(network):
    x = np.random.default_rng(1).standard_normal((2, *IMAGE_SHAPE)).astype(np.float32)
    before = {name: p.asnumpy().copy() for name, p in network.parameters_and_names()}
    expected = outputs(network, x)

    folded = fold_batchnorm(network)

    assert count(network, nn.BatchNorm2d) == 52  # the original keeps its BNs and weights
    assert all(np.array_equal(p.asnumpy(), before[name]) for name, p in network.parameters_and_names())
    assert count(folded, nn.BatchNorm2d) == 0
    assert sum(isinstance(c, nn.Conv2d) and c.has_bias for _, c in folded.cells_and_names()) == 52
    names = [name for name, _ in folded.parameters_and_names()]
    assert len(names) == len(set(names)) and "features.0.bias" in names
    assert np.abs(expected).max() > 1.0 and np.abs(expected[0] - expected[1]).max() > 0.1  # input matters
    np.testing.assert_allclose(outputs(folded, x), expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_conv_bias_is_folded_too():
    conv = nn.Conv2d(3, 4, 3, pad_mode="pad", padding=1, has_bias=True)
    norm = nn.BatchNorm2d(4)
    rng = np.random.default_rng(2)
    conv.bias.set_data(ms.Tensor(rng.normal(size=4).astype(np.float32)))
    for param, value in ((norm.gamma, rng.uniform(0.5, 2, 4)), (norm.moving_mean, rng.normal(size=4)), (norm.moving_variance, rng.uniform(0.1, 3, 4))):
        param.set_data(ms.Tensor(value.astype(np.float32)))
    block = nn.SequentialCell([conv, norm, nn.ReLU()])
    block.set_train(False)
    x = rng.standard_normal((2, 3, 8, 8)).astype(np.float32)

    folded = fold_batchnorm(block)

    assert isinstance(folded[1], nn.Identity)
    np.testing.assert_allclose(outputs(folded, x), outputs(block, x), rtol=1e-5, atol=1e-5)
