"""Augmentation that draws every image's random numbers from a seed of its own.

In a MindSpore pipeline each random op keeps one random stream for the whole epoch,
so an image's crop depends on every image the op saw before it: a run that skips
the first half of an epoch (resuming in its middle) would crop the second half
differently. Run eagerly, a MindSpore op instead reads the dataset seed at each call,
so setting that seed per image and per op makes every image's augmentation a function
of its seed alone, whichever rows came before, however many workers run and in what
order. The price: the ops run one image at a time from Python (below 0.1 ms per op
and image on top of the op's own work), in worker processes when there are several,
since the dataset seed and Python's and numpy's random states are per process.
"""
import re
import threading
from typing import Optional, Sequence, Tuple

import mindspore.dataset as ds
import numpy as np

# Weyl increment (2**32 / golden ratio): gives each op of one image a distinct 32-bit seed.
_OP_SEED_STEP = 0x9E3779B9
# How a failing op names its sample (the pipeline re-raises Python errors as text), for `failed_sample`.
_FAILED = "mindcv sample {sample} failed in {operation}: {reason}"
_FAILED_PATTERN = re.compile(r"mindcv sample (\d+) failed in \w+: (.*?)(?:\n|$)")
# The dataset seed, and the Python and numpy states it seeds, are per process, and the image map
# and the batch map run on threads of their own: a reseed by one thread landing between another's
# reseed and its draw could change an image's augmentation (the likely cause of an exact-resume failure seen once in CI).
_SEED_LOCK = threading.Lock()


def _reseed(operation, seed: int) -> None:
    """Make `operation`'s next call draw from `seed` alone.

    MindSpore's random ops run eagerly read the dataset seed (which also seeds Python's
    `random` and numpy's global state, used by Python ops such as RandomErasing);
    mindcv's own random ops (Mixup, RandAugment, AugMix) draw from a numpy Generator in `rng`.
    """
    ds.config.set_seed(seed)
    if isinstance(getattr(operation, "rng", None), np.random.Generator):
        operation.rng = np.random.default_rng(seed)


def seeded_call(operation, seed: int, *args):
    """`operation(*args)` drawing from `seed` alone, even with other threads reseeding (see `_reseed`)."""
    with _SEED_LOCK:
        _reseed(operation, seed)
        return operation(*args)


def _reason(err: BaseException) -> str:
    """The line of an error that says what went wrong (MindSpore's are many lines long)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return next((line.removeprefix("[ERROR]").strip() for line in lines if line.startswith("[ERROR]")), lines[-1] if lines else repr(err))


def failed_sample(err: BaseException) -> Optional[Tuple[int, str]]:
    """(sample index, reason) when a SeededTransform failed on a sample, else None."""
    match = _FAILED_PATTERN.search(str(err))
    return (int(match[1]), match[2].strip()) if match else None


class SeededTransform:
    """Map op on (image, seed, sample index): apply `operations` in turn, op i under seed + i * step (mod 2**32).

    Distinct seeds per op keep ops from drawing the same numbers (with one dataset seed,
    MindSpore starts every random op on the same stream, so a crop and a flip would be
    correlated). A failure names the sample's index in the pipeline (see `failed_sample`).
    """

    def __init__(self, operations: Sequence) -> None:
        self.operations = list(operations)

    def __call__(self, image: np.ndarray, seed: np.ndarray, sample: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        for index, operation in enumerate(self.operations):
            try:
                image = seeded_call(operation, (int(seed) + index * _OP_SEED_STEP) % 2**32, image)
            except Exception as err:  # any op's failure: the caller can name the file
                raise RuntimeError(_FAILED.format(sample=int(sample), operation=type(operation).__name__, reason=_reason(err))) from None
        return image, seed


class SeededBatchOp:
    """Batch map op on (images, labels, seeds): `operation(images, labels)` under the batch's first seed."""

    def __init__(self, operation) -> None:
        self.operation = operation

    def __call__(self, images: np.ndarray, labels: np.ndarray, seeds: np.ndarray) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        # A sample's seed serves its own transforms too; the complement keeps the batch's stream apart from them.
        images, labels = seeded_call(self.operation, int(seeds[0]) ^ 0xFFFFFFFF, images, labels)
        return images, labels, seeds
