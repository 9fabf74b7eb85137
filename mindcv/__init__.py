"""mindcv: MobileNetV2 model zoo and training toolkit for MindSpore."""
from .checkpoint import download_cached, load_checkpoint, save_checkpoint
from .errors import CheckpointError, ConfigError, DataError, MindCVError
from .models import (
    count_macs,
    count_params,
    create_model,
    get_pretrained_cfg,
    is_model,
    list_models,
    model_entrypoint,
    model_summary,
    register_model,
)
from .version import __version__

__all__ = [
    "__version__",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "MindCVError",
    "count_macs",
    "count_params",
    "create_model",
    "download_cached",
    "get_pretrained_cfg",
    "is_model",
    "list_models",
    "load_checkpoint",
    "model_entrypoint",
    "model_summary",
    "register_model",
    "save_checkpoint",
]
