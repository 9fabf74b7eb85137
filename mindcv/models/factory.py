"""create_model: build a registered network and load its weights."""
import logging
from pathlib import Path
from typing import Union

from mindspore import nn

from ..checkpoint import download_cached, load_checkpoint, load_weights
from ..errors import CheckpointError
from .registry import get_pretrained_cfg, model_entrypoint

_logger = logging.getLogger(__name__)


def create_model(
    model_name: str,
    num_classes: int = 1000,
    pretrained: bool = False,
    in_channels: int = 3,
    checkpoint_path: Union[str, Path] = "",
    ema: bool = False,
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
    Other keyword arguments go to the network (`drop_rate`, ...).
    """
    entrypoint = model_entrypoint(model_name)
    network = entrypoint(num_classes=num_classes, in_channels=in_channels, **kwargs)
    cfg = get_pretrained_cfg(model_name)
    network.pretrained_cfg = cfg
    if checkpoint_path:
        source = str(checkpoint_path)
    elif pretrained:
        if not cfg.url:
            raise CheckpointError(f"model '{model_name}' has no published weights; pass checkpoint_path instead")
        source = str(download_cached(cfg.url, cfg.hash))
    else:
        return network
    entries = load_checkpoint(source)
    left = load_weights(network, entries, cfg.first_conv, cfg.classifier, ema=ema, source=source, strict_head=strict_head)
    _logger.info("loaded %s into %s%s", source, model_name, f" (kept initial values of {', '.join(left)})" if left else "")
    return network
