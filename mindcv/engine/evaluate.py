"""Exact top-1 / top-5 / loss over a whole data set, summed over all processes."""
import time
from typing import Callable, Dict, Iterable, Optional, Union

import mindspore as ms
import numpy as np
from mindspore import nn, ops

# Attribute holding a network's evaluation graph (set with object.__setattr__, so the Cell does not
# register it as a child: parameter names stay the network's).
_EVAL_STEP_ATTRIBUTE = "_mindcv_eval_step"


class _EvalStep(nn.Cell):
    """Logits (float32) and per-sample losses for one batch, compiled once per shape."""

    def __init__(self, network: nn.Cell) -> None:
        super().__init__(auto_prefix=False)
        self.network = network

    def construct(self, images: ms.Tensor) -> ms.Tensor:
        return self.network(images).astype(ms.float32)

    def __deepcopy__(self, memo: dict) -> None:
        return None  # a copy of the network (e.g. BatchNorm folding) builds its own


class _CellPredictor:
    """Numpy logits of a batch from a Cell in eval mode, on one compiled graph.

    The graph is kept with the network, so every validation of a training run reuses it (a new
    Cell compiles again: 1.4 s for MobileNetV2 at 32 px, each epoch), and a smaller last batch is
    padded with zeros to the first batch's size (in eval mode samples do not interact), so it does
    not compile a graph of its own.
    """

    def __init__(self, network: nn.Cell) -> None:
        self.step = network.__dict__.get(_EVAL_STEP_ATTRIBUTE)
        if self.step is None:
            self.step = _EvalStep(network)
            object.__setattr__(network, _EVAL_STEP_ATTRIBUTE, self.step)
        network.set_train(False)
        self.batch_size = 0

    def __call__(self, images: ms.Tensor) -> np.ndarray:
        count = images.shape[0]
        self.batch_size = self.batch_size or count
        if count >= self.batch_size:
            return self.step(images).asnumpy()
        padding = ops.zeros((self.batch_size - count, *images.shape[1:]), images.dtype)
        return self.step(ops.concat((images, padding))).asnumpy()[:count]


def _predictor(network: Union[nn.Cell, Callable[[np.ndarray], np.ndarray]]) -> Callable[[ms.Tensor], np.ndarray]:
    """Numpy logits of a batch from a Cell (`_CellPredictor`) or from a function of numpy batches."""
    if not isinstance(network, nn.Cell):
        return lambda images: network(images.asnumpy())
    return _CellPredictor(network)


def _sum_over_processes(values: np.ndarray) -> np.ndarray:
    if ms.get_auto_parallel_context("parallel_mode") == ms.ParallelMode.STAND_ALONE:
        return values
    # The CPU AllReduce takes only float16/32; float32 sums of counts stay exact below 2**24 samples.
    summed = ops.AllReduce()(ms.Tensor(values, ms.float32)).asnumpy()
    return np.rint(summed).astype(values.dtype) if np.issubdtype(values.dtype, np.integer) else summed.astype(values.dtype)


def evaluate(
    network: Union[nn.Cell, Callable[[np.ndarray], np.ndarray]],
    batches: Iterable,
    num_classes: int,
    progress: Optional[callable] = None,
    confusion: bool = False,
) -> Dict[str, float]:
    """Top-1, top-5 and mean cross-entropy of `network` over every (images, labels) batch.

    Counts are summed, not averaged per batch, so an incomplete last batch and
    unequal shards weigh exactly as many samples as they hold. Returns also the
    per-class correct counts and totals (for per-class accuracy), and with
    `confusion` the confusion matrix (rows: true class, columns: top-1 prediction).
    `network` is a Cell, or a function of a numpy batch (an exported model, mindcv.deploy).
    """
    predict = _predictor(network)
    per_class = np.zeros((2, num_classes), np.int64)  # correct, seen
    matrix = np.zeros((num_classes, num_classes) if confusion else (0, 0), np.int64)
    hits = np.zeros(2, np.int64)  # top-1 correct, top-5 correct
    loss_sum = np.zeros(1, np.float64)
    start = time.perf_counter()
    for images, labels in batches:
        logits = predict(images).astype(np.float64)
        labels = labels.asnumpy().astype(np.int64)
        ranked = np.argsort(-logits, axis=1)[:, :5]
        hit1 = ranked[:, 0] == labels
        hits += [hit1.sum(), (ranked == labels[:, None]).any(axis=1).sum()]
        shifted = logits - logits.max(axis=1, keepdims=True)
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
        loss_sum -= log_probs[np.arange(len(labels)), labels].sum()
        np.add.at(per_class[0], labels, hit1)
        np.add.at(per_class[1], labels, 1)
        if confusion:
            np.add.at(matrix, (labels, ranked[:, 0]), 1)
        if progress:
            progress(len(labels))
    elapsed = time.perf_counter() - start
    hits = _sum_over_processes(hits)
    loss_sum = _sum_over_processes(loss_sum)
    per_class = _sum_over_processes(per_class)
    if confusion:
        matrix = _sum_over_processes(matrix)
    count = int(per_class[1].sum())
    if count == 0:
        raise ValueError("evaluation saw no samples")
    metrics = {
        "top1": int(hits[0]) / count,
        "top5": int(hits[1]) / count,
        "loss": float(loss_sum[0]) / count,
        "count": count,
        "correct_top1": int(hits[0]),
        "correct_top5": int(hits[1]),
        "images_per_second": count / elapsed if elapsed > 0 else 0.0,
        "per_class_correct": per_class[0].tolist(),
        "per_class_count": per_class[1].tolist(),
    }
    if confusion:
        metrics["confusion_matrix"] = matrix.tolist()
    return metrics
