"""evaluate(): one compiled graph per network for every validation, the last batch padded, counts exact."""
import copy

import mindspore as ms
import numpy as np
from mindspore import Tensor

from mindcv import create_model
from mindcv.engine.evaluate import _EVAL_STEP_ATTRIBUTE, evaluate


def _batches(images: np.ndarray, labels: np.ndarray, size: int) -> list:
    return [(Tensor(images[i:i + size]), Tensor(labels[i:i + size])) for i in range(0, len(images), size)]


def test_validations_share_one_graph_and_the_padded_last_batch_counts_only_its_images():
    ms.set_context(mode=ms.GRAPH_MODE)
    rng = np.random.default_rng(0)
    images = rng.standard_normal((10, 3, 32, 32)).astype(np.float32)
    labels = rng.integers(0, 3, 10).astype(np.int32)
    network = create_model("mobilenet_v2_035", num_classes=3)
    first = evaluate(network, _batches(images, labels, 4), 3)  # batches of 4, 4 and 2
    step = network.__dict__[_EVAL_STEP_ATTRIBUTE]
    second = evaluate(network, _batches(images, labels, 4), 3)
    assert network.__dict__[_EVAL_STEP_ATTRIBUTE] is step
    assert "_mindcv_eval_step" not in {name for name, _ in network.cells_and_names()}

    logits = network.set_train(False)(Tensor(images)).asnumpy().astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    loss = -(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))[np.arange(10), labels].mean()
    for metrics in (first, second):
        assert metrics["count"] == 10
        assert metrics["correct_top1"] == int((logits.argmax(axis=1) == labels).sum())
        np.testing.assert_allclose(metrics["loss"], loss, rtol=1e-5)
        assert metrics["per_class_count"] == np.bincount(labels, minlength=3).tolist()

    copied = copy.deepcopy(network)  # BatchNorm folding and export copy networks
    assert copied.__dict__.get(_EVAL_STEP_ATTRIBUTE) is None
    assert evaluate(copied, _batches(images, labels, 4), 3)["correct_top1"] == first["correct_top1"]
