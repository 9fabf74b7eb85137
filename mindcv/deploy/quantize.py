"""Static post-training int8 quantization of an ONNX export with onnxruntime's quantization tools.

The format is QDQ (QuantizeLinear/DequantizeLinear pairs around float operators, which
onnxruntime fuses into integer kernels such as QLinearConv): weights int8, symmetric, one
scale per output channel; activations uint8 with a zero point (what x86's VNNI u8 x s8
dot products take), their ranges calibrated on real images. BatchNorm must be folded
into the convolutions first (export with fold_bn), so each conv has one weight tensor to
quantize and no float BatchNorm remains between integer operators.
"""
import contextlib
import io
import os
from pathlib import Path
from typing import Iterator, List, Optional, Tuple, Union

import numpy as np

from ..fileio import atomic_output
from ..errors import MindCVError
from .runner import ExportedModel, onnxruntime_installed

PathLike = Union[str, os.PathLike]
# Calibration method -> its options for onnxruntime's calibrator. Activations are uint8 with a zero
# point, so every range is asymmetric (percentile's default is symmetric: half the codes unused after
# ReLU6). Entropy searches its clipping threshold over 512 histogram bins for 128 quantized ones:
# quantize_static's own 128 and 128 leave one candidate, the full range (= minmax); onnxruntime's
# search is Python, so 2048 bins (TensorRT's) cost 4x the time (minutes for a 1.0 model).
CALIBRATION_METHODS = {
    "minmax": {"symmetric": False},
    "entropy": {"symmetric": False, "num_bins": 512, "num_quantized_bins": 128},
    "percentile": {"symmetric": False, "num_bins": 2048, "percentile": 99.999},
}
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


def _input_convs(model) -> List[str]:
    """The convolutions that read the model's input (the stem)."""
    inputs = {value.name for value in model.graph.input}
    return [node.name for node in model.graph.node if node.op_type == "Conv" and node.input[0] in inputs]


def quantize_onnx(
    float_model: ExportedModel,
    calibration: np.ndarray,
    output: Optional[PathLike] = None,
    method: str = "minmax",
) -> Path:
    """Quantize the float ONNX `float_model` to int8 with `calibration` images (N, C, H, W, preprocessed).

    `method`: minmax (the observed range), entropy (the range keeping the KL divergence of the
    histogram smallest) or percentile (99.999% of the values). The model is first raised to
    opset 13 and optimised by onnxruntime's quant_pre_process (shape inference, constant
    folding); the ranges are calibrated on it, then quantize_static reads them from a
    calibration cache. The stem convolution stays float: on 3 input channels onnxruntime's
    int8 kernel is about twice as slow as its float one (its profiler, 224 px), and the
    input needs no quantizing. Written atomically to `output` (default: int8_path of the float file).
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
    from onnxruntime.quantization.calibrate import create_calibrator, save_tensors_data

    ort_method = {"minmax": CalibrationMethod.MinMax, "entropy": CalibrationMethod.Entropy,
                  "percentile": CalibrationMethod.Percentile}[method]
    output = Path(output) if output else int8_path(float_model.path)
    output.parent.mkdir(parents=True, exist_ok=True)
    # Intermediate files beside the output; the int8 model itself appears through atomic_output.
    work = {name: output.with_name(f".{output.stem}.{name}.tmp{os.getpid()}{suffix}") for name, suffix in (
        ("opset13", ".onnx"), ("prepared", ".onnx"), ("augmented", ".onnx"), ("ranges", ".json"))}
    try:
        onnx.save(version_converter.convert_version(onnx.load(str(float_model.path)), QUANTIZED_OPSET), str(work["opset13"]))
        quant_pre_process(str(work["opset13"]), str(work["prepared"]))
        prepared = onnx.load(str(work["prepared"]))
        input_name = prepared.graph.input[0].name
        calibrator = create_calibrator(work["prepared"], augmented_model_path=str(work["augmented"]),
                                       calibrate_method=ort_method, extra_options=CALIBRATION_METHODS[method])
        with contextlib.redirect_stdout(io.StringIO()):  # the histogram calibrators print their progress
            calibrator.collect_data(_Batches(input_name, np.ascontiguousarray(calibration, np.float32), batch_size))
            ranges = calibrator.compute_data()
        save_tensors_data(ranges, work["ranges"])
        with atomic_output(output) as int8:
            quantize_static(
                str(work["prepared"]),
                str(int8),
                None,
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                activation_type=QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=ort_method,
                nodes_to_exclude=_input_convs(prepared),
                extra_options={"WeightSymmetric": True},
                calibration_cache_path=work["ranges"],
            )
    finally:
        for path in work.values():
            path.unlink(missing_ok=True)
    return output


def top1_agreement(first: ExportedModel, second: ExportedModel, images: np.ndarray, batch_size: int = 32) -> Tuple[int, int]:
    """(images on which both models rank the same class first, images)."""
    agree = 0
    for start in range(0, len(images), batch_size):
        batch = images[start:start + batch_size]
        agree += int((first(batch).argmax(axis=1) == second(batch).argmax(axis=1)).sum())
    return agree, len(images)
