import numpy as np
import pytest
from datahelpers import encode
from PIL import Image

from mindcv.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from mindcv.data import create_transforms
from mindcv.errors import ConfigError

MEAN = np.array(IMAGENET_DEFAULT_MEAN, np.float32)
STD = np.array(IMAGENET_DEFAULT_STD, np.float32)


def _apply(ops, data):
    for op in ops:
        data = op(data)
    return data


def _normalized_chw(pixels: np.ndarray) -> np.ndarray:
    return ((pixels.astype(np.float32) - MEAN) / STD).transpose(2, 0, 1)


def test_eval_is_resize_then_exact_centre_crop():
    # shorter side 64 = int(56 / 0.875): the resize keeps the image, the crop takes rows 4-59 and columns 12-67
    pixels = np.random.default_rng(0).integers(0, 256, (64, 80, 3), dtype=np.uint8)
    out = _apply(create_transforms("imagenet", image_resize=56, crop_pct=0.875), np.frombuffer(encode(pixels, "PNG"), np.uint8))
    assert out.shape == (3, 56, 56) and out.dtype == np.float32
    np.testing.assert_allclose(out, _normalized_chw(pixels[4:60, 12:68]), atol=1e-5)


def test_eval_resize_matches_pil_bilinear():
    pixels = np.random.default_rng(1).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    out = _apply(create_transforms("imagenet", image_resize=56), np.frombuffer(encode(pixels, "PNG"), np.uint8))
    resized = np.asarray(Image.fromarray(pixels).resize((80, 64), Image.Resampling.BILINEAR))
    difference = np.abs(out - _normalized_chw(resized[4:60, 12:68])) * STD[:, None, None]
    assert difference.max() <= 1.5  # grey levels: OpenCV and PIL round differently


def test_train_output_shape_and_type():
    pixels = np.random.default_rng(2).integers(0, 256, (50, 70, 3), dtype=np.uint8)
    ops = create_transforms("imagenet", image_resize=32, is_training=True, color_jitter=0.4, vflip=0.5, re_prob=1.0)
    out = _apply(ops, np.frombuffer(encode(pixels, "JPEG"), np.uint8))
    assert out.shape == (3, 32, 32) and out.dtype == np.float32
    assert [type(op).__name__ for op in ops] == [
        "RandomCropDecodeResize", "RandomHorizontalFlip", "RandomVerticalFlip", "RandomColorAdjust",
        "Normalize", "HWC2CHW", "RandomErasing",
    ]


def test_non_square_size_and_mean_std_from_arguments():
    pixels = np.full((40, 40, 3), 100, np.uint8)
    ops = create_transforms("imagenet", image_resize=(24, 32), crop_pct=1.0, mean=(100, 100, 100), std=(2, 2, 2))
    out = _apply(ops, np.frombuffer(encode(pixels, "PNG"), np.uint8))
    assert out.shape == (3, 24, 32)
    np.testing.assert_allclose(out, 0.0, atol=1e-6)


def test_cifar_transforms_work_on_decoded_arrays():
    pixels = np.random.default_rng(3).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    assert _apply(create_transforms("cifar10", image_resize=32), pixels).shape == (3, 32, 32)
    train = create_transforms("cifar10", image_resize=48, is_training=True, auto_augment="randaug-m7")
    assert _apply(train, pixels).shape == (3, 48, 48)
    np.testing.assert_allclose(_apply(create_transforms("cifar10", image_resize=32), pixels), _normalized_chw(pixels), atol=1e-5)


@pytest.mark.parametrize(
    "key, value, message",
    [
        ("interpolation", "lanczos", "interpolation 'lanczos'"),
        ("color_jitter", (0.4, 0.4), r"color_jitter=\(0.4, 0.4\)"),
        ("hflip", 1.5, "hflip=1.5"),
        ("scale", (0.5, 0.1), r"scale=\(0.5, 0.1\)"),
        ("re_value", "noise", "re_value='noise'"),
        ("auto_augment", "randaug-q3", "randaug-q3"),
        ("mean", (1, 2), r"mean=\(1, 2\)"),
        ("image_resize", 0, "image_resize=0"),
    ],
)
def test_invalid_values_raise_config_error_naming_them(key, value, message):
    options = {"re_prob": 0.5, key: value}
    with pytest.raises(ConfigError, match=message):
        create_transforms("imagenet", is_training=True, **options)


def test_unknown_dataset_name():
    with pytest.raises(ConfigError, match="'svhn' is not supported"):
        create_transforms("svhn")
