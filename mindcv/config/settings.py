"""The resolved settings of a run: typed, per-concern sections that the factories take as they are.

`resolve_config` is the only place that knows which keys a user set explicitly: past it,
every value is final. The schema (schema.py) holds each key's default, help and range;
the sections here hold their types.
"""
import argparse
import logging
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from types import MappingProxyType
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import yaml

from ..errors import ConfigError, MindCVError
from ..fileio import write_text_atomic
from ..models import get_pretrained_cfg
from .parser import parse_args
from .schema import OPTIONS

_logger = logging.getLogger(__name__)


class _Section:
    """Base of the sections: `kwargs()` gives the fields as a factory's keyword arguments."""

    # Config key -> the factory's parameter name, where MindCV's names differ.
    RENAMED: Mapping[str, str] = {}

    def kwargs(self, *exclude: str) -> Dict[str, Any]:
        return {self.RENAMED.get(k, k): v for k, v in asdict(self).items() if k not in exclude}


@dataclass(frozen=True)
class SystemConfig(_Section):
    mode: int
    distribute: bool
    device_target: str
    num_parallel_workers: int
    val_while_train: bool
    val_interval: int
    log_interval: int
    seed: int
    jit_level: str
    num_threads: int  # 0 until the engine pins the count (engine.threads)


@dataclass(frozen=True)
class DataConfig(_Section):
    dataset: str
    data_dir: str
    train_split: str
    val_split: str
    class_map: Optional[str]
    shuffle: bool
    dataset_download: bool
    batch_size: int
    val_batch_size: int  # resolved: never 0
    drop_remainder: bool
    num_samples: Optional[int]
    aug_repeats: int


@dataclass(frozen=True)
class AugmentationConfig(_Section):
    """Training transforms (create_transforms) and batch mixing (create_loader)."""

    image_resize: int
    scale: List[float]
    ratio: List[float]
    hflip: float
    vflip: float
    color_jitter: Union[None, float, List[float]]
    interpolation: str
    auto_augment: Optional[str]
    re_prob: float
    re_scale: List[float]
    re_ratio: List[float]
    re_value: Union[float, str]
    re_max_attempts: int
    mean: List[float]
    std: List[float]
    crop_pct: float
    mixup: float
    cutmix: float
    cutmix_prob: float

    MIXING = ("mixup", "cutmix", "cutmix_prob")

    def transform_kwargs(self) -> Dict[str, Any]:
        return self.kwargs(*self.MIXING)

    def mixing_kwargs(self) -> Dict[str, Any]:
        return {key: getattr(self, key) for key in self.MIXING}


@dataclass(frozen=True)
class EvalConfig(_Section):
    """Evaluation transforms: explicit key > the model's pretrained config > defaults (`resolve_eval`)."""

    image_resize: int
    crop_pct: float
    interpolation: str
    mean: List[float]
    std: List[float]


@dataclass(frozen=True)
class ModelConfig(_Section):
    model: str
    num_classes: int
    in_channels: int
    drop_rate: Optional[float]
    pretrained: bool
    ckpt_path: str
    resume_opt: bool
    ema: bool
    ema_decay: float
    # Resolved: a checkpoint head of another size is an error unless num_classes was set (fine-tuning).
    strict_head: bool

    def weights_source(self) -> str:
        """Where the weights come from: ckpt_path, else the published file's url with pretrained, else ""."""
        if self.ckpt_path:
            return self.ckpt_path
        return get_pretrained_cfg(self.model).url if self.pretrained else ""

    def network_kwargs(self) -> Dict[str, Any]:
        """create_model's keyword arguments for the architecture (not the weights)."""
        kwargs = {"num_classes": self.num_classes, "in_channels": self.in_channels}
        if self.drop_rate is not None:
            kwargs["drop_rate"] = self.drop_rate
        return kwargs


@dataclass(frozen=True)
class CheckpointConfig(_Section):
    ckpt_save_dir: str
    ckpt_save_interval: int
    ckpt_save_steps: int
    ckpt_save_policy: str
    keep_checkpoint_max: int


@dataclass(frozen=True)
class TrainConfig(_Section):
    epoch_size: int
    dataset_sink_mode: bool
    amp_level: str
    val_amp_level: str  # resolved: amp_level when unset
    loss_scale_type: str
    loss_scale: float
    drop_overflow_update: bool
    clip_grad: bool
    clip_value: float
    gradient_accumulation_steps: int


@dataclass(frozen=True)
class OptimizerConfig(_Section):
    RENAMED = MappingProxyType({"use_nesterov": "nesterov"})

    opt: str
    momentum: float
    weight_decay: float
    use_nesterov: bool
    weight_decay_filter: str
    eps: float


@dataclass(frozen=True)
class SchedulerConfig(_Section):
    RENAMED = MappingProxyType({"multi_step_decay_milestones": "milestones"})

    scheduler: str
    lr: float
    min_lr: float
    warmup_epochs: int
    warmup_factor: float
    decay_epochs: int
    decay_rate: float
    multi_step_decay_milestones: List[int]
    lr_epoch_stair: bool
    num_cycles: int
    cycle_decay: float


@dataclass(frozen=True)
class LossConfig(_Section):
    RENAMED = MappingProxyType({"loss": "name"})

    loss: str
    label_smoothing: float
    aux_factor: float
    reduction: str


# Schema group -> its section class; the RunConfig attribute has the group's name.
SECTIONS = {
    "system": SystemConfig,
    "data": DataConfig,
    "augmentation": AugmentationConfig,
    "model": ModelConfig,
    "checkpoint": CheckpointConfig,
    "train": TrainConfig,
    "optimizer": OptimizerConfig,
    "scheduler": SchedulerConfig,
    "loss": LossConfig,
}
# Keys whose default comes from the model's pretrained config (a resolution name sets the size).
MODEL_DEFAULTED_KEYS = ("image_resize", "crop_pct", "interpolation", "mean", "std")


@dataclass(frozen=True)
class RunConfig:
    """Every setting of a run, resolved once. `options` holds the entry point's own options."""

    system: SystemConfig
    data: DataConfig
    augmentation: AugmentationConfig
    eval: EvalConfig
    model: ModelConfig
    checkpoint: CheckpointConfig
    train: TrainConfig
    optimizer: OptimizerConfig
    scheduler: SchedulerConfig
    loss: LossConfig
    options: Mapping[str, Any]
    source: str = ""

    def to_dict(self) -> Dict[str, Any]:
        """The config keys with their resolved values (what config.yaml holds, readable by `-c`)."""
        values: Dict[str, Any] = {}
        for group in SECTIONS:
            values.update(asdict(getattr(self, group)))
        return {option.name: values[option.name] for option in OPTIONS}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the resolved settings as a YAML file that `-c` reads back unchanged."""
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, self.to_yaml())


def model_defaults(model_name: str) -> Dict[str, Any]:
    """The MODEL_DEFAULTED_KEYS from `model_name`'s pretrained config."""
    cfg = get_pretrained_cfg(model_name)
    return {
        "image_resize": cfg.input_size[-1],
        "crop_pct": cfg.crop_pct,
        "interpolation": cfg.interpolation,
        "mean": list(cfg.mean),
        "std": list(cfg.std),
    }


def resolve_eval(values: Mapping[str, Any], explicit: frozenset) -> EvalConfig:
    """Evaluation transforms: an explicitly set key, else the model's pretrained config, else the default."""
    from_model = model_defaults(values["model"])
    return EvalConfig(**{key: values[key] if key in explicit else from_model[key] for key in MODEL_DEFAULTED_KEYS})


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask; all CPUs where the OS has none)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _capped_workers(requested: int) -> int:
    cpus = available_cpus()
    if requested > cpus:
        # MindSpore refuses more workers than CPUs with a ValueError deep inside the pipeline.
        _logger.warning("num_parallel_workers %d is more than the %d CPUs available: using %d", requested, cpus, cpus)
        return cpus
    return requested


def _section(cls: type, values: Mapping[str, Any]) -> Any:
    return cls(**{f.name: values[f.name] for f in fields(cls)})


def resolve_config(args: argparse.Namespace, extra_options: Sequence = ()) -> RunConfig:
    """Resolve parsed settings (mindcv.config.parse_args) into a RunConfig.

    Decides everything that depends on whether a key was set: the model-derived
    transform settings, whether a checkpoint head of another size may be replaced,
    and the values that default to another key's.
    """
    values = dict(vars(args))
    explicit = values.pop("explicit_keys", frozenset())
    source = values.pop("config", "")
    check_model_name(values["model"])
    derived = resolve_eval(values, explicit)
    values.update({key: getattr(derived, key) for key in MODEL_DEFAULTED_KEYS})
    values["num_parallel_workers"] = _capped_workers(values["num_parallel_workers"])
    values["val_batch_size"] = values["val_batch_size"] or values["batch_size"]
    values["val_amp_level"] = values["val_amp_level"] or values["amp_level"]
    values["strict_head"] = "num_classes" not in explicit
    if values["dataset_sink_mode"] and "dataset_sink_mode" in explicit:
        _logger.warning("dataset_sink_mode true has no effect: mindcv runs the step loop on the host, one batch per step "
                        "(MindSpore does not sink data on the CPU)")
    if values["aux_factor"] > 0:
        _logger.warning("aux_factor %g is set, but %s has no auxiliary head: it has no effect", values["aux_factor"], values["model"])
    sections = {group: _section(cls, values) for group, cls in SECTIONS.items()}
    options = MappingProxyType({option.name: values[option.name] for option in extra_options})
    return RunConfig(eval=derived, options=options, source=source, **sections)


def parse_config(
    argv: Optional[Sequence[str]] = None, description: str = "mindcv", extra_options: Sequence = ()
) -> RunConfig:
    """Parse the command line (and its `-c` YAML file) and resolve it: what every entry point calls."""
    return resolve_config(parse_args(argv, description, extra_options), extra_options)


def check_model_name(name: str) -> str:
    """`name` if it is a registered model, else the registry's error (with the nearest names)."""
    try:
        get_pretrained_cfg(name)
    except MindCVError as err:
        raise ConfigError(f"config key 'model': {err}") from None
    return name
