from . import mobilenetv2  # noqa: F401 - registers the MobileNetV2 variants
from .dropout import Dropout, seed_dropout
from .factory import create_model
from .layers import make_divisible
from .mobilenetv2 import InvertedResidual, MobileNetV2
from .registry import PretrainedCfg, get_pretrained_cfg, is_model, list_models, model_entrypoint, register_model
from .summary import count_macs, count_params, model_summary

__all__ = [
    "create_model",
    "Dropout",
    "seed_dropout",
    "make_divisible",
    "InvertedResidual",
    "MobileNetV2",
    "PretrainedCfg",
    "get_pretrained_cfg",
    "is_model",
    "list_models",
    "model_entrypoint",
    "register_model",
    "count_macs",
    "count_params",
    "model_summary",
]
