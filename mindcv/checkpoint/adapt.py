"""Fit a checkpoint's parameters to a network: heads, input channels, EMA copies."""
import logging
from typing import Dict, List

import mindspore as ms
import numpy as np
from mindspore import Parameter, nn

from ..errors import CheckpointError

_logger = logging.getLogger(__name__)

EMA_PREFIX = "ema."


def _split_ema(entries: Dict[str, object], ema: bool, source: str) -> Dict[str, object]:
    """The network's weights from a checkpoint: the plain copy, or with `ema` the EMA copy.

    The EMA copy (MindCV's `ema.` prefix) holds only trainable weights; BN statistics
    come from the plain copy.
    """
    plain = {k: v for k, v in entries.items() if not k.startswith(EMA_PREFIX)}
    if not ema:
        return plain
    averaged = {k[len(EMA_PREFIX):]: v for k, v in entries.items() if k.startswith(EMA_PREFIX)}
    if not averaged:
        raise CheckpointError(f"{source}: no EMA weights (no '{EMA_PREFIX}' entries) in this checkpoint")
    return {**plain, **averaged}


def _fit_first_conv(weight: np.ndarray, in_channels: int) -> np.ndarray:
    """Adapt an RGB stem kernel to `in_channels` inputs.

    One channel gets the sum (a grey image then gives the RGB response); more
    channels cycle through R, G, B scaled by 3 / in_channels, as timm does.
    """
    if in_channels == 1:
        return weight.sum(axis=1, keepdims=True)
    repeats = -(-in_channels // weight.shape[1])
    return np.tile(weight, (1, repeats, 1, 1))[:, :in_channels] * (weight.shape[1] / in_channels)


def adapt_weights(
    network: nn.Cell,
    entries: Dict[str, object],
    first_conv: str = "",
    classifier: str = "",
    ema: bool = False,
    source: str = "checkpoint",
    strict_head: bool = False,
) -> Dict[str, Parameter]:
    """Return the checkpoint's parameters reshaped to fit `network`.

    Keys the network lacks (optimizer moments, step counters, the config) are
    ignored. A head of another size is dropped (fine-tuning) unless `strict_head`
    (evaluation: a fresh head would be meaningless), a 1001-class head loses its
    background class, and the stem kernel is adapted to the network's input
    channels. Anything else that does not fit raises a CheckpointError.
    """
    wanted = network.parameters_dict()
    entries = _split_ema(entries, ema, source)
    params: Dict[str, Parameter] = {}
    mismatched = []
    for name, target in wanted.items():
        if name not in entries:
            continue
        value = entries[name].asnumpy()
        shape = tuple(target.shape)
        if value.shape != shape and classifier and name.startswith(classifier + "."):
            if value.shape[0] == 1001 and shape[0] == 1000 and value.shape[1:] == shape[1:]:
                value = value[1:]
                _logger.info("%s: %s has 1001 classes; dropped the background class", source, name)
            elif strict_head:
                raise CheckpointError(
                    f"{source}: its classifier has {value.shape[0]} classes but the network has {shape[0]} "
                    f"(num_classes mismatch without fine-tuning intent); set num_classes to {value.shape[0]}"
                )
            else:
                _logger.info("%s: %s has shape %s, the network %s; left it freshly initialised", source, name, value.shape, shape)
                continue
        elif value.shape != shape and first_conv and name == first_conv + ".weight" and value.ndim == 4:
            value = _fit_first_conv(value, shape[1])
            _logger.info("%s: adapted %s from %d to %d input channels", source, name, entries[name].shape[1], shape[1])
        if value.shape != shape:
            mismatched.append(f"{name} {value.shape} vs {shape}")
            continue
        params[name] = Parameter(ms.Tensor(value, dtype=target.dtype), name=name)
    head_optional = classifier and not strict_head
    missing = [n for n in wanted if n not in params and not (head_optional and n.startswith(classifier + "."))]
    if mismatched or missing:
        detail = []
        if mismatched:
            detail.append(f"{len(mismatched)} shape mismatches (e.g. {mismatched[0]})")
        if missing:
            detail.append(f"{len(missing)} missing parameters (e.g. {missing[0]})")
        raise CheckpointError(f"{source}: does not fit this network: {'; '.join(detail)}; is it a checkpoint of another architecture or width?")
    return params


def load_weights(
    network: nn.Cell,
    entries: Dict[str, object],
    first_conv: str = "",
    classifier: str = "",
    ema: bool = False,
    source: str = "checkpoint",
    strict_head: bool = False,
) -> List[str]:
    """Adapt `entries` with `adapt_weights`, load them into `network`; return the names left as they were."""
    params = adapt_weights(network, entries, first_conv, classifier, ema, source, strict_head)
    not_loaded, _ = ms.load_param_into_net(network, params)
    return not_loaded
