"""Static post-training int8 quantization of an ONNX export with onnxruntime's quantization tools.

The format is QDQ (QuantizeLinear/DequantizeLinear pairs around float operators, which
onnxruntime fuses into integer kernels such as QLinearConv): weights int8, symmetric, one
scale per output channel; activations uint8 with a zero point (what x86's VNNI u8 x s8
dot products take), their ranges calibrated on real images. BatchNorm must be folded
into the convolutions first (export with fold_bn), so each conv has one weight tensor to
quantize and no float BatchNorm remains between integer operators.
"""
import os
from pathlib import Path
from typing import Iterator, Optional, Sequence, Tuple, Union

import numpy as np

from ..errors import MindCVError
from .runner import ExportedModel, onnxruntime_installed

PathLike = Union[str, os.PathLike]
CALIBRATION_METHODS = ("minmax", "entropy", "percentile")
# Per-channel QuantizeLinear/DequantizeLinear (their `axis`) need opset 13; MindSpore exports opset 11.
QUANTIZED_OPSET = 13


def int8_path(float_path: PathLike) -> Path:
    """Where the int8 model of `float_path` goes: model.onnx -> model.int8.onnx."""
    path = Path(float_path)
    return path.with_name(f"{path.stem}.int8{path.suffix}")


class _Batches:
    """onnxruntime's CalibrationDataReader protocol over fixed-size batches of `images`."""

    def __init__(self, input_name: str, images: np.ndarray, batch_size: int) -> None:
        # A static batch takes full batches only: padding images would widen the calibrated ranges.
        usable = len(images) // batch_size * batch_size
        self._batches: Iterator = iter(images[i:i + batch_size] for i in range(0, usable, batch_size))
        self._input_name = input_name

    def get_next(self) -> Optional[dict]:
        batch = next(self._batches, None)
        return None if batch is None else {self._input_name: batch}


def quantize_onnx(
    float_model: ExportedModel,
    calibration: np.ndarray,
    output: Optional[PathLike] = None,
    method: str = "minmax",
    exclude_nodes: Sequence[str] = (),
) -> Path:
    """Quantize the float ONNX `float_model` to int8 with `calibration` images (N, C, H, W, preprocessed).

    `method`: minmax (the observed range), entropy (the range keeping the KL divergence of the
    histogram smallest) or percentile (99.999% of the values). The model is first raised to
    opset 13 and optimised by onnxruntime's quant_pre_process (shape inference, constant
    folding). Written atomically to `output` (default: int8_path of the float file).
    """
    if method not in CALIBRATION_METHODS:
        raise MindCVError(f"unknown calibration method '{method}' (choose {', '.join(CALIBRATION_METHODS)})")
    if float_model.format != "onnx":
        raise MindCVError(f"{float_model.path}: int8 quantization takes an ONNX model")
    batch_size = float_model.batch_size or 1
    if len(calibration) < batch_size:
        raise MindCVError(f"{len(calibration)} calibration images are fewer than the model's batch size {batch_size}")
    if not onnxruntime_installed():
        raise MindCVError("int8 quantization needs onnxruntime (pip install onnxruntime)")
    import onnx
    from onnx import version_converter
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quant_pre_process, quantize_static

    methods = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy, "percentile": CalibrationMethod.Percentile}
    output = Path(output) if output else int8_path(float_model.path)
    output.parent.mkdir(parents=True, exist_ok=True)
    opset13 = output.with_name(f".{output.stem}.opset{QUANTIZED_OPSET}.tmp{os.getpid()}.onnx")
    prepared = output.with_name(f".{output.stem}.prepared.tmp{os.getpid()}.onnx")
    tmp = output.with_name(f".{output.stem}.tmp{os.getpid()}.onnx")
    try:
        onnx.save(version_converter.convert_version(onnx.load(str(float_model.path)), QUANTIZED_OPSET), str(opset13))
        quant_pre_process(str(opset13), str(prepared))
        input_name = onnx.load(str(prepared)).graph.input[0].name
        quantize_static(
            str(prepared),
            str(tmp),
            _Batches(input_name, np.ascontiguousarray(calibration, np.float32), batch_size),
            quant_format=QuantFormat.QDQ,
            per_channel=True,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            calibrate_method=methods[method],
            nodes_to_exclude=list(exclude_nodes),
            extra_options={"WeightSymmetric": True, "ActivationSymmetric": False},
        )
        os.replace(tmp, output)
    finally:
        for path in (opset13, prepared, tmp):
            path.unlink(missing_ok=True)
    return output


def top1_agreement(first: ExportedModel, second: ExportedModel, images: np.ndarray, batch_size: int = 32) -> Tuple[int, int]:
    """(images on which both models rank the same class first, images)."""
    agree = 0
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        agree += int((first(batch).argmax(axis=1) == second(batch).argmax(axis=1)).sum())
    return agree, len(images)
