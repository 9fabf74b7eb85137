"""create_transforms: the image op lists of MindCV, on MindSpore's C++ vision ops.

Folder datasets (ImageNet, the embedded set) carry encoded images; training decodes
and crops in one fused op (RandomCropDecodeResize, which decodes only the crop of a
JPEG). CIFAR-10 carries decoded 32x32 arrays and gets the usual pad-and-crop.
"""
from numbers import Real
from typing import List, Optional, Sequence, Tuple, Union

from mindspore.dataset import vision
from mindspore.dataset.vision import Inter

from ..constants import DEFAULT_CROP_PCT, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from ..errors import ConfigError
from .auto_augment import auto_augment_transform
from .dataset_factory import dataset_kind

ImageSize = Union[int, Sequence[int]]
INTERPOLATIONS = {"nearest": Inter.NEAREST, "bilinear": Inter.BILINEAR, "bicubic": Inter.BICUBIC, "area": Inter.AREA}
CIFAR_PADDING = 4


def _interpolation(name: str) -> Inter:
    if name not in INTERPOLATIONS:
        raise ConfigError(f"interpolation '{name}' is not supported; use one of {', '.join(INTERPOLATIONS)}")
    return INTERPOLATIONS[name]


def _image_size(image_resize: ImageSize) -> Union[int, Tuple[int, int]]:
    size = (image_resize,) if isinstance(image_resize, int) else tuple(image_resize)
    if len(size) not in (1, 2) or not all(isinstance(side, int) and side > 0 for side in size):
        raise ConfigError(f"image_resize={image_resize!r}: expected a positive int or (height, width)")
    return size[0] if len(size) == 1 else size


def _probability(key: str, value: float) -> float:
    if not isinstance(value, Real) or not 0.0 <= value <= 1.0:
        raise ConfigError(f"{key}={value!r}: expected a probability in [0, 1]")
    return float(value)


def _range(key: str, value: Sequence[float]) -> Tuple[float, float]:
    if len(value) != 2 or not 0 < value[0] <= value[1]:
        raise ConfigError(f"{key}={value!r}: expected (low, high) with 0 < low <= high")
    return float(value[0]), float(value[1])


def _triple(key: str, value: Sequence[float]) -> List[float]:
    if len(value) != 3:
        raise ConfigError(f"{key}={value!r}: expected one value per RGB channel")
    return [float(v) for v in value]


def _color_jitter(color_jitter: Union[None, float, Sequence[float]]) -> Optional[vision.RandomColorAdjust]:
    """A float jitters brightness, contrast and saturation alike; a 3- or 4-tuple adds hue."""
    if color_jitter is None or (isinstance(color_jitter, Real) and color_jitter == 0):
        return None
    strengths = (color_jitter,) * 3 if isinstance(color_jitter, Real) else tuple(color_jitter)
    if len(strengths) not in (3, 4) or not all(isinstance(s, Real) and s >= 0 for s in strengths):
        expected = "a number or (brightness, contrast, saturation[, hue])"
        raise ConfigError(f"color_jitter={color_jitter!r}: expected {expected}")
    if len(strengths) == 4 and strengths[3] > 0.5:
        raise ConfigError(f"color_jitter={color_jitter!r}: hue must be in [0, 0.5]")
    return vision.RandomColorAdjust(*(float(s) for s in strengths))


def _erase_value(re_value: Union[int, float, str, Sequence[int]]) -> Union[int, str, Tuple[int, ...]]:
    """RandomErasing's fill: an int, one int per channel, or 'random' (per-pixel normal noise)."""
    if re_value == "random":
        return re_value
    values = (re_value,) if isinstance(re_value, (Real, str)) else tuple(re_value)
    if len(values) not in (1, 3) or not all(isinstance(v, Real) and float(v).is_integer() for v in values):
        raise ConfigError(f"re_value={re_value!r}: expected an integer, one integer per channel, or 'random'")
    return int(values[0]) if len(values) == 1 else tuple(int(v) for v in values)


def _eval_resize(image_resize: Union[int, Tuple[int, int]], crop_pct: float) -> Union[int, Tuple[int, int]]:
    """Shorter side image_resize / crop_pct; a non-square (h, w) scales both sides."""
    if not 0 < crop_pct <= 1:
        raise ConfigError(f"crop_pct={crop_pct!r}: expected a value in (0, 1]")
    if isinstance(image_resize, int) or image_resize[0] == image_resize[1]:
        side = image_resize if isinstance(image_resize, int) else image_resize[0]
        return int(side / crop_pct)
    return tuple(int(side / crop_pct) for side in image_resize)


def create_transforms(
    dataset_name: str = "",
    image_resize: ImageSize = 224,
    is_training: bool = False,
    auto_augment: Optional[str] = None,
    scale: Sequence[float] = (0.08, 1.0),
    ratio: Sequence[float] = (0.75, 1.333),
    hflip: float = 0.5,
    vflip: float = 0.0,
    color_jitter: Union[None, float, Sequence[float]] = None,
    interpolation: str = "bilinear",
    re_prob: float = 0.0,
    re_scale: Sequence[float] = (0.02, 0.33),
    re_ratio: Sequence[float] = (0.3, 3.3),
    re_value: Union[int, float, str, Sequence[int]] = 0,
    re_max_attempts: int = 10,
    mean: Sequence[float] = IMAGENET_DEFAULT_MEAN,
    std: Sequence[float] = IMAGENET_DEFAULT_STD,
    crop_pct: float = DEFAULT_CROP_PCT,
) -> list:
    """The op list for the `image` column, as MindCV's create_transforms builds it.

    Training: random resized crop to `image_resize` (area `scale`, aspect `ratio`),
    flips with probability `hflip` / `vflip`, then either the `auto_augment` policy
    (see `mindcv.data.auto_augment`) or colour jitter, normalize with `mean`/`std`
    (0-255 scale), HWC to CHW, and random erasing with probability `re_prob` (area
    `re_scale`, aspect `re_ratio`, fill `re_value`: a number, per-channel values or
    'random'). Evaluation: decode, resize the shorter side to image_resize / crop_pct,
    centre crop `image_resize`, normalize, CHW. Output: float32 CHW.

    With a dataset seed set, MindSpore 2.10 starts every random op on the same random
    stream, so `hflip` and `vflip` both at 0.5 flip an image together or not at all.
    """
    kind = dataset_kind(dataset_name)
    size = _image_size(image_resize)
    resample = _interpolation(interpolation)
    normalize = [vision.Normalize(_triple("mean", mean), _triple("std", std)), vision.HWC2CHW()]
    if not is_training:
        if kind == "cifar10":
            return [vision.Resize(size, resample)] + normalize
        resize = vision.Resize(_eval_resize(size, crop_pct), resample)
        return [vision.Decode(), resize, vision.CenterCrop(size)] + normalize

    if kind == "cifar10":
        ops = [vision.RandomCrop(32, CIFAR_PADDING)]
    else:
        ops = [vision.RandomCropDecodeResize(size, _range("scale", scale), _range("ratio", ratio), resample)]
    if _probability("hflip", hflip) > 0:
        ops.append(vision.RandomHorizontalFlip(hflip))
    if _probability("vflip", vflip) > 0:
        ops.append(vision.RandomVerticalFlip(vflip))
    if auto_augment:
        grey = min(255, round(sum(_triple("mean", mean)) / 3))
        ops.append(auto_augment_transform(auto_augment, resample, grey))
    else:
        jitter = _color_jitter(color_jitter)
        if jitter is not None:
            ops.append(jitter)
    if kind == "cifar10":
        ops.append(vision.Resize(size, resample))
    ops += normalize
    if _probability("re_prob", re_prob) > 0:
        erase_range = _range("re_scale", re_scale), _range("re_ratio", re_ratio)
        fill = _erase_value(re_value)
        ops.append(vision.RandomErasing(re_prob, *erase_range, value=fill, max_attempts=re_max_attempts))
    return ops
