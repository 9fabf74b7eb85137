"""Models: the registry, create_model, MobileNetV2 and its MindCV entry-point functions."""
from . import mobilenetv2
from .factory import build_model_with_cfg, create_model
from .features import FeatureExtractor
from .dropout import Dropout, seed_dropout
from .layers import make_divisible
from .mobilenetv2 import ENTRYPOINT_NAMES, InvertedResidual, MobileNetV2
from .registry import PretrainedCfg, get_pretrained_cfg, is_model, list_models, model_entrypoint, register_model
from .summary import count_macs, count_params, model_summary

# Every registered name is importable from here, as in MindCV: `from mindcv.models import mobilenet_v2_100`.
globals().update({name: getattr(mobilenetv2, name) for name in ENTRYPOINT_NAMES})

__all__ = [
    "build_model_with_cfg",
    "create_model",
    "Dropout",
    "seed_dropout",
    "make_divisible",
    "FeatureExtractor",
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
    *ENTRYPOINT_NAMES,
]
