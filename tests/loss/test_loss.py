"""create_loss against cross entropies computed by hand in numpy."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor, nn

from mindcv.errors import ConfigError
from mindcv.loss import BinaryCrossEntropySmooth, CrossEntropySmooth, create_loss

LOGITS = np.array([[1.0, 2.0, 0.5], [0.1, -1.0, 3.0], [0.3, 0.3, -2.0], [-0.5, 1.5, 0.0]])
LABELS = np.array([1, 2, 0, 1])
SOFT = np.array([[0.2, 0.7, 0.1], [0.0, 0.4, 0.6], [0.5, 0.5, 0.0], [0.1, 0.1, 0.8]])  # e.g. mixup targets
N, C = LOGITS.shape


def log_softmax(x):
    shifted = x - x.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def smoothed_one_hot(labels, smoothing):
    return np.eye(C)[labels] * (1 - smoothing) + smoothing / C


def log_sigmoid(x):
    return -np.log1p(np.exp(-x))


def reduce(per_item, reduction):
    return {"mean": per_item.mean(), "sum": per_item.sum(), "none": per_item}[reduction]


def run(loss, logits, labels):
    labels = Tensor(labels.astype(np.int32 if labels.dtype.kind == "i" else np.float32))
    return loss(Tensor(logits.astype(np.float32)), labels).asnumpy()


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_label_smoothing(reduction):
    # smoothing 0.1 on 3 classes: target 0.9 + 0.1/3 on the label, 0.1/3 elsewhere
    per_sample = -(smoothed_one_hot(LABELS, 0.1) * log_softmax(LOGITS)).sum(axis=1)
    loss = create_loss("CE", reduction=reduction, label_smoothing=0.1)
    np.testing.assert_allclose(run(loss, LOGITS, LABELS), reduce(per_sample, reduction), rtol=1e-6)


def test_cross_entropy_without_smoothing_is_nll_of_the_label():
    nll = -log_softmax(LOGITS)[np.arange(N), LABELS]
    np.testing.assert_allclose(run(create_loss("ce"), LOGITS, LABELS), nll.mean(), rtol=1e-6)


def test_cross_entropy_class_weights_average_over_label_weights():
    weight = np.array([1.0, 2.0, 0.5])
    per_sample = -(smoothed_one_hot(LABELS, 0.1) * weight * log_softmax(LOGITS)).sum(axis=1)
    loss = create_loss("CE", weight=weight.tolist(), label_smoothing=0.1)
    # 'mean' divides by the summed weight of the true classes (PyTorch's and MindSpore's rule)
    np.testing.assert_allclose(run(loss, LOGITS, LABELS), per_sample.sum() / weight[LABELS].sum(), rtol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_soft_targets_are_not_smoothed_again(reduction):
    per_sample = -(SOFT * log_softmax(LOGITS)).sum(axis=1)
    loss = create_loss("CE", reduction=reduction, label_smoothing=0.1)
    np.testing.assert_allclose(run(loss, LOGITS, SOFT), reduce(per_sample, reduction), rtol=1e-6)


def bce(targets):
    return -(targets * log_sigmoid(LOGITS) + (1 - targets) * log_sigmoid(-LOGITS))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_turns_class_indices_into_smoothed_one_hot(reduction):
    loss = create_loss("BCE", reduction=reduction, label_smoothing=0.1)
    np.testing.assert_allclose(run(loss, LOGITS, LABELS), reduce(bce(smoothed_one_hot(LABELS, 0.1)), reduction),
                               rtol=1e-6)


def test_bce_soft_targets_and_class_weight():
    weight = np.array([1.0, 2.0, 0.5])
    loss = create_loss("bce", weight=weight, label_smoothing=0.1)
    np.testing.assert_allclose(run(loss, LOGITS, SOFT), (bce(SOFT) * weight).mean(), rtol=1e-6)


def test_aux_factor_adds_the_auxiliary_heads():
    aux = LOGITS[:, ::-1].copy()
    ce = create_loss("CE", label_smoothing=0.1, aux_factor=0.4)
    main_only = create_loss("CE", label_smoothing=0.1)
    logits = (Tensor(LOGITS.astype(np.float32)), Tensor(aux.astype(np.float32)))
    expected = run(main_only, LOGITS, LABELS) + 0.4 * run(main_only, aux, LABELS)
    np.testing.assert_allclose(ce(logits, Tensor(LABELS.astype(np.int32))).asnumpy(), expected, rtol=1e-6)


def test_names_are_case_insensitive():
    assert isinstance(create_loss("ce"), CrossEntropySmooth)
    assert isinstance(create_loss("CE"), CrossEntropySmooth)
    assert isinstance(create_loss("Bce"), BinaryCrossEntropySmooth)


def test_unknown_loss_names_the_valid_ones():
    with pytest.raises(ConfigError, match=r"unknown loss 'BCEE'.*did you mean 'BCE'.*CE, BCE"):
        create_loss("BCEE")


@pytest.mark.parametrize(
    "kwargs, culprit",
    [
        (dict(reduction="avg"), "reduction"),
        (dict(label_smoothing=1.0), "label_smoothing"),
        (dict(aux_factor=-1), "aux_factor"),
    ],
)
def test_bad_arguments_are_named(kwargs, culprit):
    with pytest.raises(ConfigError, match=culprit):
        create_loss("CE", **kwargs)


def test_cross_entropy_in_a_graph_mode_train_step():
    """Both label layouts compile in graph mode and give the hand-computed loss before the update."""
    ms.set_context(mode=ms.GRAPH_MODE)
    features = np.eye(N, 5, dtype=np.float32)
    for labels in (LABELS, SOFT):
        # sample i is the unit vector e_i, so its logits are column i of the weight
        weight = np.concatenate([LOGITS.T, np.zeros((C, 1))], axis=1).astype(np.float32)
        net = nn.Dense(5, C, weight_init=Tensor(weight), bias_init="zeros")
        step = nn.TrainOneStepCell(nn.WithLossCell(net, create_loss("CE", label_smoothing=0.1)),
                                   nn.SGD(net.trainable_params(), 0.1))
        targets = smoothed_one_hot(labels, 0.1) if labels.ndim == 1 else labels
        expected = -(targets * log_softmax(LOGITS)).sum(axis=1).mean()
        loss = step(Tensor(features), Tensor(labels.astype(np.int32 if labels.ndim == 1 else np.float32)))
        np.testing.assert_allclose(loss.asnumpy(), expected, rtol=1e-6)
        assert not np.allclose(net.weight.asnumpy()[:, :N], LOGITS.T)  # the step updated the weights
