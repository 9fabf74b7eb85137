"""Export a network to MINDIR or ONNX, and check the exported file against it."""
import copy
import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Sequence, Tuple, Union

import mindspore as ms
import numpy as np
from mindspore import nn

from ..errors import MindCVError
from ..fileio import atomic_output
from ..models.layers import set_custom_kernels
from .runner import load_exported

PathLike = Union[str, os.PathLike]

# Format name -> (MindSpore's file_format, file suffix).
EXPORT_FORMATS = {"mindir": ("MINDIR", ".mindir"), "onnx": ("ONNX", ".onnx")}
# Largest accepted |exported - network|, relative to the larger of 1 and the largest |logit|.
CHECK_TOLERANCE = 1e-5


def _format(file_format: str) -> Tuple[str, str]:
    if file_format not in EXPORT_FORMATS:
        raise MindCVError(f"unknown export format '{file_format}' (choose {', '.join(EXPORT_FORMATS)})")
    return EXPORT_FORMATS[file_format]


def export_path(output: PathLike, file_format: str) -> Path:
    """`output` with the format's suffix (a known export suffix on `output` is replaced)."""
    output = Path(output)
    if output.suffix in {suffix for _, suffix in EXPORT_FORMATS.values()}:
        output = output.with_suffix("")
    return output.with_name(output.name + _format(file_format)[1])


def export_network(
    network: nn.Cell, output: PathLike, file_format: str, image_shape: Tuple[int, int, int], batch_size: int = 1
) -> Path:
    """Export `network` (switched to eval mode) for inputs of shape (batch, *image_shape).

    MINDIR gets a dynamic batch dimension; ONNX, which MindSpore exports only with
    static shapes (opset 11), gets `batch_size`. The file is written under a temporary
    name and renamed, so it appears complete or not at all. Returns its path.
    mindcv's CPU kernels are switched off in the exported copy: the file holds
    MindSpore's standard operators only, so it runs anywhere.
    """
    ms_format, suffix = _format(file_format)
    path = export_path(output, file_format)
    path.parent.mkdir(parents=True, exist_ok=True)
    if file_format == "mindir":
        example = ms.Tensor(shape=[None, *image_shape], dtype=ms.float32)
    else:
        example = ms.Tensor(np.zeros((batch_size, *image_shape), dtype=np.float32))
    network = set_custom_kernels(copy.deepcopy(network), False)
    network.set_train(False)
    # atomic_output keeps the suffix, so MindSpore adds no second one.
    with atomic_output(path) as tmp:
        ms.export(network, example, file_name=str(tmp), file_format=ms_format)
    return path


@dataclass(frozen=True)
class CheckResult:
    """How far an exported model's outputs are from the network's, for one batch size."""

    batch_size: int
    max_abs_diff: float
    max_abs_output: float

    @property
    def ok(self) -> bool:
        return self.max_abs_diff <= CHECK_TOLERANCE * max(1.0, self.max_abs_output)

    def __str__(self) -> str:
        verdict = "ok" if self.ok else f"FAILED (tolerance {CHECK_TOLERANCE:g} x max(1, max |output|))"
        return f"batch {self.batch_size}: max abs diff {self.max_abs_diff:.3g} (max |output| {self.max_abs_output:.3g}) {verdict}"


def check_exported(
    network: nn.Cell, path: PathLike, image_shape: Tuple[int, int, int], batch_sizes: Sequence[int] = (1,), seed: int = 0
) -> List[CheckResult]:
    """Run the exported model and `network` (in eval mode) on the same random inputs."""
    run = load_exported(path)
    network.set_train(False)
    rng = np.random.default_rng(seed)
    results = []
    for batch_size in batch_sizes:
        x = rng.standard_normal((batch_size, *image_shape)).astype(np.float32)
        expected = network(ms.Tensor(x)).asnumpy()
        actual = run(x)
        if actual.shape != expected.shape:
            raise MindCVError(f"{path}: output shape {actual.shape}, the network gives {expected.shape}")
        results.append(CheckResult(batch_size, float(np.abs(actual - expected).max()), float(np.abs(expected).max())))
    return results
