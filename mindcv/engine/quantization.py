"""export.py --quantize int8: calibration images through the model's evaluation transforms, quantization, agreement."""
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..config import EvalConfig, Option
from ..data.image_check import image_files
from ..deploy.quantize import CALIBRATION_METHODS, quantize_onnx, top1_agreement
from ..deploy.runner import load_exported
from ..errors import ConfigError, DataError
from .predict import eval_image_ops, load_image

# export.py's quantization options, beside its own.
QUANTIZE_OPTIONS = (
    Option("quantize", "str", None, "int8: also write <output>.int8.onnx, statically quantized (needs calib_data)",
           "quantization", choices=("int8",), nullable=True),
    Option("calib_data", "str", "", "image folder for calibration: <calib_data>/<calib_split>, searched recursively",
           "quantization"),
    Option("calib_split", "str", "train", "sub-folder of calib_data to calibrate on (empty: calib_data itself)", "quantization"),
    Option("calib_samples", "int", 256, "calibration images, spread evenly over the sorted files", "quantization",
           bounds="positive"),
    Option("calib_method", "str", "minmax", "activation ranges: minmax, entropy or percentile", "quantization",
           choices=tuple(CALIBRATION_METHODS)),
)


def calibration_images(data_dir: str, split: str, num_samples: int, settings: EvalConfig) -> np.ndarray:
    """`num_samples` images of `data_dir`/`split` (every k-th of the sorted files, so each class
    folder contributes), preprocessed with the evaluation transforms `settings`, as an
    N x C x H x W float32 array."""
    if not data_dir:
        raise ConfigError("config key 'calib_data': int8 quantization needs a folder of calibration images")
    folder = Path(data_dir) / split if split else Path(data_dir)
    if not folder.is_dir():
        raise DataError(f"{folder}: calibration folder not found (calib_data {data_dir}, calib_split '{split}')")
    files = image_files(folder)
    if not files:
        raise DataError(f"{folder}: holds no image files to calibrate on")
    chosen = [files[i] for i in np.linspace(0, len(files) - 1, min(num_samples, len(files))).round().astype(int)]
    ops = eval_image_ops("imagenet", settings)  # image files, decoded as folder data sets are
    return np.stack([load_image(path, ops) for path in chosen])


@dataclass(frozen=True)
class QuantizationReport:
    path: Path
    method: str
    calibration_images: int
    agreement: Optional[int] = None  # images on which float and int8 give the same top-1 class

    def __str__(self) -> str:
        text = f"wrote {self.path} (int8 QDQ, per-channel weights, {self.method} calibration on {self.calibration_images} images)"
        if self.agreement is not None:
            share = self.agreement / self.calibration_images
            text += f"\n  top-1 agreement with the float model on the calibration images: {share:.2%} ({self.agreement}/{self.calibration_images})"
        return text


def quantize_export(onnx_path: Path, images: np.ndarray, method: str = "minmax", check: bool = False) -> QuantizationReport:
    """Write the int8 model of the (BatchNorm-folded) ONNX export `onnx_path`, calibrated on
    `images` (calibration_images); with `check`, count top-1 agreement of both models on them."""
    float_model = load_exported(onnx_path)
    float_model.check_input(images.shape[1:])
    path = quantize_onnx(float_model, images, method=method)
    agreement = top1_agreement(float_model, load_exported(path), images)[0] if check else None
    return QuantizationReport(path, method, len(images), agreement)
