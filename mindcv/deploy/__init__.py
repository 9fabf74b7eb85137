"""Inference deployment: BatchNorm folding and MINDIR/ONNX export."""
from .export import EXPORT_FORMATS, CheckResult, check_exported, export_network, export_path, load_exported, onnxruntime_installed
from .fold import fold_batchnorm

__all__ = [
    "EXPORT_FORMATS",
    "CheckResult",
    "check_exported",
    "export_network",
    "export_path",
    "fold_batchnorm",
    "load_exported",
    "onnxruntime_installed",
]
