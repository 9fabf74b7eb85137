import numpy as np
import pytest

from mindcv.data import Mixup
from mindcv.data.mixup import smooth_one_hot
from mindcv.errors import ConfigError, DataError

BATCH, CLASSES = 8, 5


def _constant_batch():
    """Image i is filled with the value i, so a mixed image's mean tells how much of each source it holds."""
    images = np.broadcast_to(np.arange(BATCH, dtype=np.float32)[:, None, None, None], (BATCH, 3, 16, 12)).copy()
    labels = np.array([0, 1, 2, 3, 4, 0, 1, 2], np.int32)
    return images, labels


@pytest.mark.parametrize("mixup, cutmix", [(0.8, 0.0), (0.0, 1.0), (0.8, 1.0)])
def test_targets_are_soft_rows_summing_to_one_and_match_the_pixels(seeded, mixup, cutmix):
    mix = Mixup(mixup, cutmix, prob=1.0, num_classes=CLASSES)
    for _ in range(10):
        images, labels = _constant_batch()
        mixed, targets = mix(images, labels)
        assert mixed.shape == images.shape and mixed.dtype == np.float32
        assert targets.shape == (BATCH, CLASSES) and targets.dtype == np.float32
        np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-6)
        # weight on image i's own source: its pixel mean is lam * i + (1 - lam) * (BATCH - 1 - i)
        lam = (mixed[0].mean() - (BATCH - 1)) / (0 - (BATCH - 1))
        expected = lam * np.eye(CLASSES)[labels] + (1 - lam) * np.eye(CLASSES)[labels[::-1]]
        np.testing.assert_allclose(targets, expected, atol=1e-5)


def test_label_smoothing_applies_to_the_mixed_targets(seeded):
    images, labels = _constant_batch()
    _, targets = Mixup(0.5, 0.0, label_smoothing=0.1, num_classes=CLASSES)(images, labels)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-6)
    assert targets.min() >= 0.1 / CLASSES - 1e-7
    np.testing.assert_allclose(smooth_one_hot(np.array([2]), 4, 0.2), [[0.05, 0.05, 0.85, 0.05]])


def test_probability_zero_leaves_the_batch_alone(seeded):
    images, labels = _constant_batch()
    mixed, targets = Mixup(0.8, 1.0, prob=0.0, num_classes=CLASSES)(images, labels)
    np.testing.assert_array_equal(mixed, images)
    np.testing.assert_array_equal(targets, np.eye(CLASSES, dtype=np.float32)[labels])


def test_bad_settings_and_labels():
    with pytest.raises(ConfigError, match="cutmix_prob=1.5"):
        Mixup(0.2, 0.0, prob=1.5)
    with pytest.raises(ConfigError, match="mixup=-1"):
        Mixup(-1)
    images, labels = _constant_batch()
    with pytest.raises(DataError, match="label 5 outside \\[0, 5\\)"):
        Mixup(0.2, num_classes=CLASSES)(images, labels + 3)
