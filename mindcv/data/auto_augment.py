"""Auto-augment policy strings (MindCV's names) turned into MindSpore ops.

A policy string is a name followed by dash-separated options, each a key and a number:

- `randaug[-m<0..10>][-n<ops>][-mstd<std>][-mmax<0..10>][-inc<0|1>]`, e.g. `randaug-m9-mstd0.5`:
  RandAugment as MindCV runs it: n layers, each picks one of 14 ops and applies it with
  probability 0.5, at magnitude m on a 0-10 scale (10 = full strength: 30 degrees rotation,
  shear 0.3, translation 45% of the image, enhancement factors 1 +- 0.9, 4 bits posterized
  away, solarize threshold 0); default m10, n2, mstd0.5, mmax10. mstd > 0 draws each op's
  magnitude from a normal distribution (uniform on [0, m] for mstd > 100 or `inf`), clipped
  to [0, mmax], here as 16 equally likely quantiles. Every op grows in severity with the
  magnitude (MindCV's `inc1`); `inc` is accepted for compatibility.
- `autoaug`: MindSpore's AutoAugment with the ImageNet policy (no options).
- `trivialaugwide`: TrivialAugment, wide ranges (Muller and Hutter, 2021): one op per image
  at a uniformly drawn magnitude out of 31 (rotation up to 135 degrees, shear 0.99,
  translation 1/7 of the image (32 of 224 pixels), enhancement 1 +- 0.99, down to 2 bits).
- `augmix[-m<1..10>][-w<width>][-d<depth>][-a<alpha>]`: AugMix (Hendrycks et al., 2020),
  written here on PIL because MindSpore has no AugMix op; default m3 (severity), w3 (chains),
  d0 (random depth 1-3 per chain), a1 (Dirichlet and Beta parameter). It runs in Python,
  so it is slower than the others; create_loader runs it on one worker so a seed repeats it.

RandAugment and TrivialAugment are written here (choices in Python, MindSpore's C++ ops
doing the pixel work) rather than taken from MindSpore 2.10, whose RandAugment and
TrivialAugmentWide pass the translation in pixels to an affine op that reads it as a
fraction of the image, so about one image in eight comes out as nothing but fill colour.
Geometric ops fill with one grey level (the mean of `mean`), because MindSpore's Rotate
and AutoAugment permute the channels of a per-channel fill.
"""
import math
import re
from dataclasses import dataclass
from statistics import NormalDist
from typing import Callable, Dict, List, Sequence, Tuple

import mindspore.dataset as ds
import numpy as np
from mindspore.dataset import vision

from ..errors import ConfigError
from .augmix import AugMix

_OPTION = re.compile(r"([a-z]+)(\d+(?:\.\d*)?|inf)")
_DEFAULTS: Dict[str, Dict[str, float]] = {
    "randaug": {"m": 10.0, "n": 2.0, "mstd": 0.5, "mmax": 10.0, "inc": 0.0},
    "autoaug": {},
    "trivialaugwide": {},
    "augmix": {"m": 3.0, "w": 3.0, "d": 0.0, "a": 1.0},
}
# (lowest, highest, must be an integer) per option
_LIMITS: Dict[str, Tuple[float, float, bool]] = {
    "m": (0.0, 10.0, False),
    "n": (1.0, 14.0, True),
    "mstd": (0.0, math.inf, False),
    "mmax": (0.0, 10.0, False),
    "inc": (0.0, 1.0, True),
    "w": (1.0, 16.0, True),
    "d": (0.0, 3.0, True),
    "a": (1e-3, 100.0, False),
}
POLICY_NAMES = tuple(_DEFAULTS)

_LEVELS = 10.0  # MindCV's magnitude scale: m10 is full strength
_MAGNITUDE_QUANTILES = 16


@dataclass(frozen=True)
class AugmentPolicy:
    name: str
    options: Dict[str, float]


def parse_auto_augment(spec: str) -> AugmentPolicy:
    """Parse a policy string; raise ConfigError naming the policy and the bad part."""
    if not isinstance(spec, str) or not spec.strip():
        raise ConfigError(f"auto_augment {spec!r}: expected a policy string such as 'randaug-m9-mstd0.5'")
    name, *tokens = spec.strip().lower().split("-")
    if name not in _DEFAULTS:
        raise ConfigError(f"auto_augment '{spec}': unknown policy '{name}'; use one of {', '.join(POLICY_NAMES)}")
    options = dict(_DEFAULTS[name])
    for token in tokens:
        match = _OPTION.fullmatch(token)
        if not match or match[1] not in options:
            allowed = ", ".join(options) or "none"
            raise ConfigError(f"auto_augment '{spec}': cannot read option '{token}' (options of {name}: {allowed})")
        key, value = match[1], float(match[2])
        low, high, integral = _LIMITS[key]
        if not low <= value <= high or (integral and not value.is_integer()):
            kind = "an integer" if integral else "a number"
            raise ConfigError(f"auto_augment '{spec}': option '{token}' must be {kind} in [{low:g}, {high:g}]")
        options[key] = value
    if name == "randaug" and options["m"] > options["mmax"]:
        raise ConfigError(f"auto_augment '{spec}': magnitude m{options['m']:g} exceeds mmax{options['mmax']:g}")
    if name == "augmix" and options["m"] < 1:
        raise ConfigError(f"auto_augment '{spec}': augmix severity m must be at least 1")
    return AugmentPolicy(name, options)


def _magnitude_levels(magnitude: float, std: float, ceiling: float) -> List[float]:
    """Equally likely magnitudes standing for N(magnitude, std) clipped to [0, ceiling]."""
    if std == 0:
        return [magnitude]
    if std > 100:  # MindCV's convention for "uniform on [0, magnitude]"
        levels = [magnitude * (i + 0.5) / _MAGNITUDE_QUANTILES for i in range(_MAGNITUDE_QUANTILES)]
    else:
        normal = NormalDist(magnitude, std)
        levels = [normal.inv_cdf((i + 0.5) / _MAGNITUDE_QUANTILES) for i in range(_MAGNITUDE_QUANTILES)]
    return [min(max(level, 0.0), ceiling) for level in levels]


@dataclass(frozen=True)
class _Spans:
    """Full-strength (level 10) parameters of the ops."""

    rotate: float  # degrees
    shear: float  # x offset per unit of y
    translate: float  # fraction of the image side
    enhance: float  # factor offset from 1
    posterize: int  # bits removed


_RANDAUG_SPANS = _Spans(rotate=30.0, shear=0.3, translate=0.45, enhance=0.9, posterize=4)
_WIDE_SPANS = _Spans(rotate=135.0, shear=0.99, translate=32 / 224, enhance=0.99, posterize=6)
_RANDAUG_OPS = (
    "AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize", "Color",
    "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY",
)
_TRIVIAL_OPS = (
    "Identity", "AutoContrast", "Equalize", "Rotate", "Posterize", "Solarize", "Color",
    "Contrast", "Brightness", "Sharpness", "ShearX", "ShearY", "TranslateX", "TranslateY",
)
_TRIVIAL_LEVELS = [_LEVELS * step / 30 for step in range(31)]


def _affine(interpolation: vision.Inter, fill: int, translate=(0.0, 0.0), shear=(0.0, 0.0)) -> vision.Affine:
    """Translation as fractions of the image side, shear in degrees."""
    return vision.Affine(0.0, list(translate), 1.0, list(shear), interpolation, fill)


def _both_signs(make: Callable[[float], Callable], value: float) -> Tuple[Callable, ...]:
    return (make(value), make(-value)) if value else (make(0.0),)


def _identity(image: np.ndarray) -> np.ndarray:
    return image


def augment_ops(level: float, spans: _Spans, interpolation: vision.Inter, fill: int) -> Dict[str, Tuple[Callable, ...]]:
    """The ops of RandAugment and TrivialAugment at one magnitude level (0-10), by name;
    each name has one variant, or two equally likely ones (both directions)."""
    f = level / _LEVELS
    shear = math.degrees(math.atan(spans.shear * f))
    translate = spans.translate * f
    return {
        "Identity": (_identity,),
        "AutoContrast": (vision.AutoContrast(),),
        "Equalize": (vision.Equalize(),),
        "Invert": (vision.Invert(),),
        "Rotate": _both_signs(lambda d: vision.Rotate(d, interpolation, fill_value=fill), spans.rotate * f),
        "Posterize": (vision.Posterize(8 - round(spans.posterize * f)),),
        "Solarize": (vision.Solarize(255.0 * (1.0 - f)),),
        "Color": _both_signs(lambda d: vision.AdjustSaturation(1.0 + d), spans.enhance * f),
        "Contrast": _both_signs(lambda d: vision.AdjustContrast(1.0 + d), spans.enhance * f),
        "Brightness": _both_signs(lambda d: vision.AdjustBrightness(1.0 + d), spans.enhance * f),
        "Sharpness": _both_signs(lambda d: vision.AdjustSharpness(1.0 + d), spans.enhance * f),
        "ShearX": _both_signs(lambda d: _affine(interpolation, fill, shear=(d, 0.0)), shear),
        "ShearY": _both_signs(lambda d: _affine(interpolation, fill, shear=(0.0, d)), shear),
        "TranslateX": _both_signs(lambda t: _affine(interpolation, fill, translate=(t, 0.0)), translate),
        "TranslateY": _both_signs(lambda t: _affine(interpolation, fill, translate=(0.0, t)), translate),
    }


class RandAugment:
    """`num_layers` times: pick one of `names` and, with probability `apply_prob`, apply it at a
    level drawn from `levels`, in a random direction. TrivialAugment is one layer, always applied.

    The choices are drawn here, in Python, and MindSpore's C++ ops run eagerly: with a dataset
    seed set, MindSpore 2.10 gives every random op the same random stream, so n RandomChoice
    layers would all pick the same op (RandAugment n2 would apply one op twice).
    The random generator is seeded from `mindspore.dataset.config.get_seed()`.
    """

    def __init__(
        self,
        names: Sequence[str],
        levels: Sequence[float],
        num_layers: int,
        apply_prob: float,
        spans: _Spans,
        interpolation: vision.Inter,
        fill: int,
    ):
        self.names = list(names)
        self.levels = list(levels)
        self.num_layers = num_layers
        self.apply_prob = apply_prob
        self.ops = {level: augment_ops(level, spans, interpolation, fill) for level in set(levels)}
        self.rng = np.random.default_rng(ds.config.get_seed())

    def __call__(self, image: np.ndarray) -> np.ndarray:
        for _ in range(self.num_layers):
            name = self.names[self.rng.integers(len(self.names))]
            variants = self.ops[self.levels[self.rng.integers(len(self.levels))]][name]
            operation = variants[self.rng.integers(len(variants))]
            if self.rng.random() < self.apply_prob:
                image = operation(image)
        return image


def auto_augment_transform(
    spec: str, interpolation: vision.Inter = vision.Inter.BILINEAR, fill_value: int = 128
) -> Callable:
    """One op (HWC uint8 in and out) for a policy string; `fill_value` fills pixels moved in from outside."""
    policy = parse_auto_augment(spec)
    options = policy.options
    if policy.name == "autoaug":
        return vision.AutoAugment(vision.AutoAugmentPolicy.IMAGENET, interpolation, fill_value)
    if policy.name == "augmix":
        return AugMix(int(options["m"]), int(options["w"]), int(options["d"]), options["a"], (fill_value,) * 3)
    if policy.name == "trivialaugwide":
        return RandAugment(_TRIVIAL_OPS, _TRIVIAL_LEVELS, 1, 1.0, _WIDE_SPANS, interpolation, fill_value)
    levels = _magnitude_levels(options["m"], options["mstd"], options["mmax"])
    return RandAugment(_RANDAUG_OPS, levels, int(options["n"]), 0.5, _RANDAUG_SPANS, interpolation, fill_value)
