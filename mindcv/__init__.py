"""mindcv: MobileNetV2 model zoo and training toolkit for MindSpore."""
from .checkpoint import download_cached, load_checkpoint, save_checkpoint
from .data import create_dataset, create_loader, create_transforms
from .deploy import check_exported, export_network, fold_batchnorm
from .engine import imagenet_class_names, load_label_names
from .errors import CheckpointError, ConfigError, DataError, MindCVError
from .loss import create_loss
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
from .optim import create_optimizer
from .scheduler import create_scheduler
from .version import __version__

__all__ = [
    "__version__",
    "CheckpointError",
    "ConfigError",
    "DataError",
    "MindCVError",
    "check_exported",
    "count_macs",
    "count_params",
    "create_dataset",
    "create_loader",
    "create_loss",
    "create_model",
    "create_optimizer",
    "create_scheduler",
    "create_transforms",
    "download_cached",
    "export_network",
    "fold_batchnorm",
    "get_pretrained_cfg",
    "imagenet_class_names",
    "is_model",
    "list_models",
    "load_checkpoint",
    "load_label_names",
    "model_entrypoint",
    "model_summary",
    "register_model",
    "save_checkpoint",
]
