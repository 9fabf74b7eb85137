"""Inference deployment: BatchNorm folding and MINDIR/ONNX export."""
from .export import EXPORT_FORMATS, CheckResult, check_exported, export_network, export_path
from .fold import fold_batchnorm
from .runner import ExportedModel, load_exported, onnxruntime_installed

__all__ = [
    "EXPORT_FORMATS",
    "CheckResult",
    "ExportedModel",
    "check_exported",
    "export_network",
    "export_path",
    "fold_batchnorm",
    "load_exported",
    "onnxruntime_installed",
]
