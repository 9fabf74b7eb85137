"""Model registry: names -> entry points, each with its pretrained config."""
import fnmatch
from dataclasses import dataclass, field, replace
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

from ..constants import DEFAULT_CROP_PCT, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from ..errors import MindCVError, did_you_mean


@dataclass(frozen=True)
class PretrainedCfg:
    """How a model's weights were made and how to feed it.

    `hash` is "sha256:<hex>" or "md5:<hex>" (MindCV publishes MD5); empty when unknown.
    Mean and std are on the 0-255 pixel scale, as MindSpore's Normalize expects.
    """

    url: str = ""
    hash: str = ""
    num_classes: int = 1000
    input_size: Tuple[int, int, int] = (3, 224, 224)
    crop_pct: float = DEFAULT_CROP_PCT
    interpolation: str = "bilinear"
    mean: Tuple[float, float, float] = IMAGENET_DEFAULT_MEAN
    std: Tuple[float, float, float] = IMAGENET_DEFAULT_STD
    first_conv: str = "features.0"
    classifier: str = "classifier.1"
    label_names: str = "imagenet"
    extra: Dict[str, str] = field(default_factory=dict)

    def with_updates(self, **kwargs) -> "PretrainedCfg":
        return replace(self, **kwargs)


_entrypoints: Dict[str, Callable] = {}
_pretrained_cfgs: Dict[str, PretrainedCfg] = {}


def register_model(
    fn: Callable, name: Optional[str] = None, pretrained_cfg: Optional[PretrainedCfg] = None
) -> Callable:
    """Register `fn(**kwargs) -> nn.Cell` under `name` (default: the function's name).

    Usable as a plain decorator or called from a table of variants.
    """
    name = name or fn.__name__
    if name in _entrypoints:
        raise ValueError(f"model '{name}' is registered twice")
    _entrypoints[name] = fn
    _pretrained_cfgs[name] = pretrained_cfg or PretrainedCfg()
    return fn


def _as_patterns(filters: Union[str, Iterable[str]]) -> List[str]:
    if isinstance(filters, str):
        return [filters] if filters else []
    return list(filters)


def list_models(
    filter: Union[str, Iterable[str]] = "",  # noqa: A002 - MindCV's and timm's public name
    pretrained: bool = False,
    exclude_filters: Union[str, Iterable[str]] = "",
) -> List[str]:
    """Sorted registered names matching any shell-style `filter` and no `exclude_filters`.

    With `pretrained=True`, only models whose config names downloadable weights.
    """
    names = sorted(_entrypoints)
    include = _as_patterns(filter)
    if include:
        names = [n for n in names if any(fnmatch.fnmatch(n, p) for p in include)]
    for pattern in _as_patterns(exclude_filters):
        names = [n for n in names if not fnmatch.fnmatch(n, pattern)]
    if pretrained:
        names = [n for n in names if _pretrained_cfgs[n].url]
    return names


def is_model(model_name: str) -> bool:
    return model_name in _entrypoints


def _unknown(model_name: str) -> MindCVError:
    hint = did_you_mean(model_name, _entrypoints, n=3, cutoff=0.5)
    return MindCVError(f"unknown model '{model_name}'{hint} (mindcv.list_models() lists all)")


def model_entrypoint(model_name: str) -> Callable:
    if model_name not in _entrypoints:
        raise _unknown(model_name)
    return _entrypoints[model_name]


def get_pretrained_cfg(model_name: str) -> PretrainedCfg:
    if model_name not in _pretrained_cfgs:
        raise _unknown(model_name)
    return _pretrained_cfgs[model_name]
