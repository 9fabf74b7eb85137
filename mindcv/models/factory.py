"""create_model and the builder every entry point shares: build, load weights, wrap for features."""
import logging
from pathlib import Path
from typing import Callable, Optional, Sequence, Union

from mindspore import nn

from ..checkpoint import download_cached, load_checkpoint, load_weights
from ..errors import CheckpointError
from .features import FeatureExtractor
from .registry import PretrainedCfg, get_pretrained_cfg, model_entrypoint

_logger = logging.getLogger(__name__)


def _weights_source(model_name: str, cfg: PretrainedCfg, pretrained: bool, checkpoint_path: Union[str, Path]) -> str:
    if checkpoint_path:
        return str(checkpoint_path)
    if not pretrained:
        return ""
    if not cfg.url:
        raise CheckpointError(f"model '{model_name}' has no published weights; pass checkpoint_path instead")
    return str(download_cached(cfg.url, cfg.hash))


def build_model_with_cfg(
    build: Callable[..., nn.Cell],
    model_name: str,
    pretrained: bool = False,
    num_classes: int = 1000,
    in_channels: int = 3,
    checkpoint_path: Union[str, Path] = "",
    ema: bool = False,
    strict_head: bool = False,
    features_only: bool = False,
    out_indices: Optional[Sequence[int]] = None,
    **kwargs,
) -> nn.Cell:
    """Build `model_name` with `build(num_classes=..., in_channels=..., **kwargs)`, load its weights, wrap it.

    Weights come from `checkpoint_path` when given, else with `pretrained` from the
    model's published file. A feature model is built without a classifier, so a
    classification checkpoint loads into it minus the head; its parameter names stay
    those of the classification model.
    """
    cfg = get_pretrained_cfg(model_name)
    network = build(num_classes=0 if features_only else num_classes, in_channels=in_channels, **kwargs)
    network.pretrained_cfg = cfg
    source = _weights_source(model_name, cfg, pretrained, checkpoint_path)
    if source:
        entries = load_checkpoint(source)
        left = load_weights(network, entries, cfg.first_conv, cfg.classifier, ema=ema, source=source, strict_head=strict_head)
        kept = f" (kept initial values of {', '.join(left)})" if left else ""
        _logger.info("loaded %s into %s%s", source, model_name, kept)
    if features_only:
        network = FeatureExtractor(network, out_indices)
        network.pretrained_cfg = cfg
    return network


def create_model(
    model_name: str,
    num_classes: int = 1000,
    pretrained: bool = False,
    in_channels: int = 3,
    checkpoint_path: Union[str, Path] = "",
    ema: bool = False,
    features_only: bool = False,
    out_indices: Optional[Sequence[int]] = None,
    *,
    strict_head: bool = False,
    **kwargs,
) -> nn.Cell:
    """Build `model_name` (see `list_models()`), as MindCV's create_model does.

    Weights come from `checkpoint_path` (a .ckpt or .safetensors file) when given,
    else with `pretrained=True` from the model's published weights (downloaded
    once into `$MINDCV_HOME`). A head of another size is left freshly initialised,
    so `num_classes=10` with weights fine-tunes; with `strict_head=True` (evaluation,
    inference) it is a CheckpointError instead. `ema=True` loads the EMA copy.
    `features_only=True` returns the feature maps at `out_indices` (positions in the
    model's `feature_info`; default: all). Other keyword arguments go to the
    network (`drop_rate`, ...).
    """
    return model_entrypoint(model_name)(
        pretrained=pretrained,
        num_classes=num_classes,
        in_channels=in_channels,
        checkpoint_path=checkpoint_path,
        ema=ema,
        strict_head=strict_head,
        features_only=features_only,
        out_indices=out_indices,
        **kwargs,
    )
