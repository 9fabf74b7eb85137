"""create_loader: transforms, label type, batching and mixup/cutmix on a dataset (MindCV's arguments)."""
from typing import Optional, Sequence

import mindspore as ms
import mindspore.dataset as ds
import numpy as np
from mindspore.dataset import transforms
from mindspore.dataset.transforms.transforms import Implementation, TensorOperation

from ..errors import ConfigError
from .mixup import Mixup
from .seeded import SeededBatchOp, SeededTransform
from .transforms_factory import create_transforms


def _runs_in_python(operation) -> bool:
    """Python ops (RandomErasing, AugMix, plain callables) draw from a random state shared by all workers."""
    return not isinstance(operation, TensorOperation) or operation.implementation == Implementation.PY


def create_loader(
    dataset: ds.Dataset,
    batch_size: int,
    drop_remainder: bool = False,
    is_training: bool = False,
    mixup: float = 0.0,
    cutmix: float = 0.0,
    cutmix_prob: float = 1.0,
    num_classes: int = 1000,
    label_smoothing: float = 0.0,
    transform: Optional[Sequence] = None,
    num_parallel_workers: Optional[int] = None,
    sample_seeds: Optional[Sequence[int]] = None,
) -> ds.Dataset:
    """Batches of (`image` float32 NCHW, `label`) from a dataset made by `create_dataset`.

    `transform` is the op list from `create_transforms` (default: ImageNet evaluation
    ops at 224). Labels are int32 class indices, unless training with `mixup` or `cutmix`
    (Beta alphas; either > 0 enables mixing): then `label` holds soft float32 targets
    of width `num_classes`, smoothed by `label_smoothing`, each row summing to 1, and
    `cutmix_prob` is the probability that a batch is mixed. Without mixing, label
    smoothing belongs to the loss.

    The C++ ops run on `num_parallel_workers` threads; from the first op that runs in
    Python on (random erasing, AugMix), the ops and the mixing run on one worker, since
    several would draw random numbers in a varying order: so a seed repeats a run exactly.

    `sample_seeds` (one per row of `dataset`, e.g. an `epoch_plan`'s) augments every image
    under its own seed instead, and mixes every batch under its first image's seed: any
    batch then comes out the same whatever rows precede it (see `mindcv.data.seeded`).
    The ops run eagerly, in `num_parallel_workers` processes when more than one; an op's
    failure names the sample's index (`mindcv.data.unreadable_image_error` takes its files).
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ConfigError(f"batch_size={batch_size!r}: must be a positive integer")
    if transform is None:
        transform = create_transforms("imagenet", is_training=False)
    operations = list(transform)
    mix = None
    if is_training and (mixup > 0 or cutmix > 0):
        mix = Mixup(mixup, cutmix, cutmix_prob, label_smoothing=label_smoothing, num_classes=num_classes)
    if sample_seeds is not None:
        return _seeded_loader(dataset, operations, sample_seeds, batch_size, drop_remainder, mix, num_parallel_workers)
    first_python = next((i for i, operation in enumerate(operations) if _runs_in_python(operation)), len(operations))
    if first_python > 0:
        dataset = dataset.map(operations[:first_python], "image", num_parallel_workers=num_parallel_workers)
    if first_python < len(operations):
        dataset = dataset.map(operations[first_python:], "image", num_parallel_workers=1)
    dataset = dataset.map(operations=transforms.TypeCast(ms.int32), input_columns="label")
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if mix is not None:
        dataset = dataset.map(operations=mix, input_columns=["image", "label"], num_parallel_workers=1)
    return dataset


def _seeded_loader(
    dataset: ds.Dataset,
    operations: list,
    sample_seeds: Sequence[int],
    batch_size: int,
    drop_remainder: bool,
    mix: Optional[Mixup],
    num_parallel_workers: Optional[int],
) -> ds.Dataset:
    seeds = np.asarray(sample_seeds, np.uint32)
    samples = ds.NumpySlicesDataset({"seed": seeds, "sample": np.arange(len(seeds), dtype=np.int64)}, shuffle=False)
    dataset = ds.zip((dataset, samples))
    workers = num_parallel_workers or 1
    dataset = dataset.map(
        SeededTransform(operations), ["image", "seed", "sample"], ["image", "seed"],
        num_parallel_workers=workers, python_multiprocessing=workers > 1,
    )
    dataset = dataset.map(operations=transforms.TypeCast(ms.int32), input_columns="label")
    dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    if mix is not None:
        columns = ["image", "label", "seed"]
        dataset = dataset.map(SeededBatchOp(mix), columns, columns, num_parallel_workers=1)
    return dataset.project(["image", "label"])
