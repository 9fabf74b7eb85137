"""The PyTorch peers' image pipeline: PIL and numpy only (no MindSpore import, so a peer's memory and start-up
time are its own). Random resized crop, horizontal flip, normalize, CHW; or a plain resize for evaluation."""
import math
import random
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image


def crop_box(width: int, height: int, rng: random.Random, scale: tuple, ratio: tuple) -> tuple:
    """Random resized crop box (left, top, right, bottom), the usual 10 tries then a centre crop."""
    area = width * height
    for _ in range(10):
        target = area * rng.uniform(*scale)
        aspect = math.exp(rng.uniform(math.log(ratio[0]), math.log(ratio[1])))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            left, top = rng.randint(0, width - w), rng.randint(0, height - h)
            return left, top, left + w, top + h
    side = min(width, height)
    left, top = (width - side) // 2, (height - side) // 2
    return left, top, left + side, top + side


def _normalized_chw(image: Image.Image, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    return ((np.asarray(image, np.float32) - mean) / std).transpose(2, 0, 1)


def train_sample(path: Path, size: int, scale: tuple, ratio: tuple, hflip: float,
                 mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Decode as RGB, random resized crop to `size` (bilinear), flip with probability `hflip`, normalize
    (mean and std on the 0-255 scale), CHW float32."""
    rng = random.Random()
    with Image.open(path) as image:
        image = image.convert("RGB")
        image = image.resize((size, size), Image.Resampling.BILINEAR, box=crop_box(*image.size, rng, scale, ratio))
    if rng.random() < hflip:
        image = image.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    return _normalized_chw(image, np.asarray(mean, np.float32), np.asarray(std, np.float32))


def eval_sample(path: Path, size: int, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """Decode as RGB, resize to `size` x `size` (bilinear), normalize, CHW float32."""
    with Image.open(path) as image:
        image = image.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
    return _normalized_chw(image, np.asarray(mean, np.float32), np.asarray(std, np.float32))
