"""Hand-written CPU kernels for operators whose MindSpore CPU implementation is slow."""
from .batchnorm import batch_norm_train
from .build import build_library, kernel_available
from .depthwise import depthwise_conv3x3

__all__ = ["batch_norm_train", "build_library", "depthwise_conv3x3", "kernel_available"]
