"""Hand-written CPU kernels for operators whose MindSpore CPU implementation is slow."""
from .batchnorm import batch_norm_inference, batch_norm_train
from .build import KernelBuildError, build_library, kernel_available
from .dense import conv3x3
from .depthwise import depthwise_conv3x3
from .threads import set_num_threads

__all__ = ["KernelBuildError", "batch_norm_inference", "batch_norm_train", "build_library", "conv3x3", "depthwise_conv3x3", "kernel_available", "set_num_threads"]
