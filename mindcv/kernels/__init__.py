"""Hand-written CPU kernels for operators whose MindSpore CPU implementation is slow."""
from .build import build_library
from .depthwise import depthwise_conv3x3, kernel_available

__all__ = ["build_library", "depthwise_conv3x3", "kernel_available"]
