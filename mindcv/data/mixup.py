"""Mixup and CutMix on whole batches, with soft one-hot targets (MindCV's Mixup semantics).

MindSpore's MixUpBatch and CutMixBatch each do one of the two, always, and need
one-hot labels mapped beforehand; MindCV's recipe picks mixup or cutmix per batch
with a probability and smooths the targets, so this is one small numpy op instead.
Each image is paired with its mirror in the batch (i with B-1-i), as MindCV does.
"""
from typing import Tuple

import mindspore.dataset as ds
import numpy as np

from ..errors import ConfigError, DataError


def smooth_one_hot(labels: np.ndarray, num_classes: int, smoothing: float = 0.0) -> np.ndarray:
    """One-hot float32 rows with `smoothing` spread evenly over all classes; each row sums to 1."""
    off_value = smoothing / num_classes
    targets = np.full((len(labels), num_classes), off_value, np.float32)
    targets[np.arange(len(labels)), labels] = 1.0 - smoothing + off_value
    return targets


class Mixup:
    """Batch op: (images NCHW float32, labels int) -> (mixed images, soft targets float32).

    Args:
        mixup_alpha: Beta(alpha, alpha) for mixup's blend weight; 0 disables mixup.
        cutmix_alpha: Beta(alpha, alpha) for cutmix's kept area; 0 disables cutmix.
        prob: probability that a batch is mixed at all (MindCV's cutmix_prob).
        switch_prob: with both enabled, probability of cutmix rather than mixup.
        label_smoothing: smoothing applied to both one-hot targets before mixing.
        num_classes: width of the targets.

    CutMix's weight is the area actually kept after clipping the box to the image.
    The random generator is seeded from `mindspore.dataset.config.get_seed()`.
    """

    def __init__(
        self,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.0,
        num_classes: int = 1000,
    ):
        for key, value in (("mixup", mixup_alpha), ("cutmix", cutmix_alpha)):
            if value < 0:
                raise ConfigError(f"{key}={value}: the Beta alpha must be >= 0")
        for key, value in (("cutmix_prob", prob), ("switch_prob", switch_prob)):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{key}={value}: expected a probability in [0, 1]")
        if not 0.0 <= label_smoothing < 1.0:
            raise ConfigError(f"label_smoothing={label_smoothing}: expected a value in [0, 1)")
        if num_classes < 1:
            raise ConfigError(f"num_classes={num_classes}: must be positive")
        self.mixup_alpha = mixup_alpha
        self.cutmix_alpha = cutmix_alpha
        self.prob = prob
        self.switch_prob = switch_prob
        self.label_smoothing = label_smoothing
        self.num_classes = num_classes
        self.rng = np.random.default_rng(ds.config.get_seed())

    def _cutmix_box(self, lam: float, height: int, width: int) -> Tuple[int, int, int, int]:
        """A box of area (1 - lam) of the image, centred uniformly at random, clipped to the image."""
        cut = np.sqrt(1.0 - lam)
        cut_h, cut_w = int(height * cut), int(width * cut)
        centre_y, centre_x = self.rng.integers(height), self.rng.integers(width)
        top, bottom = np.clip([centre_y - cut_h // 2, centre_y + cut_h // 2], 0, height)
        left, right = np.clip([centre_x - cut_w // 2, centre_x + cut_w // 2], 0, width)
        return int(top), int(bottom), int(left), int(right)

    def _mix(self, images: np.ndarray) -> Tuple[np.ndarray, float]:
        """Mix images with their mirrors in place of a copy; return them and the weight of the originals."""
        if self.rng.random() >= self.prob or self.mixup_alpha + self.cutmix_alpha == 0:
            return images, 1.0
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha == 0 or self.rng.random() < self.switch_prob)
        alpha = self.cutmix_alpha if use_cutmix else self.mixup_alpha
        lam = float(self.rng.beta(alpha, alpha))
        mirrored = images[::-1]
        if not use_cutmix:
            return (images * lam + mirrored * (1.0 - lam)).astype(images.dtype), lam
        height, width = images.shape[-2:]
        top, bottom, left, right = self._cutmix_box(lam, height, width)
        mixed = images.copy()
        mixed[..., top:bottom, left:right] = mirrored[..., top:bottom, left:right]
        return mixed, 1.0 - (bottom - top) * (right - left) / (height * width)

    def __call__(self, images: np.ndarray, labels: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
        labels = np.asarray(labels).astype(np.int64).reshape(-1)
        outside = labels[(labels < 0) | (labels >= self.num_classes)]
        if outside.size:
            raise DataError(f"label {outside[0]} outside [0, {self.num_classes}): set num_classes to the data set's")
        mixed, lam = self._mix(images)
        targets = smooth_one_hot(labels, self.num_classes, self.label_smoothing)
        return mixed, (targets * lam + targets[::-1] * (1.0 - lam)).astype(np.float32)
