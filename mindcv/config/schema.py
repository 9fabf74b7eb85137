"""Every config key: its type, default and meaning. The one table the YAML loader and the CLI read.

Keys and defaults follow MindCV's config.py so MindCV YAML files run unchanged.
"""
from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

from ..constants import DEFAULT_CROP_PCT, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from ..data.transforms_factory import INTERPOLATIONS


@dataclass(frozen=True)
class Option:
    name: str
    kind: str  # bool | int | float | str | ints | floats | number_or_floats | str_or_number
    default: Any
    help: str
    group: str
    choices: Optional[Tuple[str, ...]] = None
    nullable: bool = False
    bounds: Optional[str] = None  # a key of BOUNDS: the range a number must lie in


# Name -> (test, what the message says it must be) for Option.bounds.
BOUNDS = {
    "positive": (lambda v: v > 0, "must be positive"),
    "non_negative": (lambda v: v >= 0, "must not be negative"),
    "unit_interval": (lambda v: 0 <= v <= 1, "must be between 0 and 1"),
}


def _group(group: str, *rows: tuple) -> list:
    options = []
    for row in rows:
        name, kind, default, help_text, *rest = row
        extra = rest[0] if rest else {}
        options.append(Option(name, kind, default, help_text, group, **extra))
    return options


OPTIONS = (
    _group(
        "system",
        ("mode", "int", 0, "0: graph mode (compiled), 1: PyNative mode", {"choices": (0, 1)}),
        ("distribute", "bool", False, "data-parallel training over all launched processes (msrun or mpirun)"),
        ("device_target", "str", "auto", "auto picks what MindSpore finds", {"choices": ("auto", "Ascend", "GPU", "CPU")}),
        ("num_parallel_workers", "int", 8, "data-loading workers per process", {"bounds": "positive"}),
        ("val_while_train", "bool", False, "validate after every val_interval epochs"),
        ("val_interval", "int", 1, "epochs between validations", {"bounds": "positive"}),
        ("log_interval", "int", 100, "steps between log lines", {"bounds": "positive"}),
        ("seed", "int", 42, "seed for weights, data order and augmentation"),
        ("jit_level", "str", "O1", "graph-mode compile level (MindSpore jit_level)", {"choices": ("O0", "O1", "O2")}),
        ("num_threads", "int", 0, "CPU threads and cores of each process (results depend on it; recorded in checkpoints); "
         "0: the cores the process may use divided by the processes on its host", {"bounds": "non_negative"}),
    ),
    _group(
        "data",
        ("dataset", "str", "imagenet", "imagenet (any ImageNet-layout folder), cifar10 or fashion_mnist (embedded)"),
        ("data_dir", "str", "", "data set root folder"),
        ("train_split", "str", "train", "training split folder name"),
        ("val_split", "str", "val", "validation split folder name"),
        ("class_map", "str", "", "file of class folder names, one per line, in index order", {"nullable": True}),
        ("shuffle", "bool", True, "shuffle the training set every epoch"),
        ("dataset_download", "bool", False, "download the data set (not possible offline: explains where to put it)"),
        ("batch_size", "int", 128, "images per process per step (global batch = batch_size x processes)", {"bounds": "positive"}),
        ("val_batch_size", "int", 0, "validation batch size; 0 uses batch_size", {"bounds": "non_negative"}),
        ("drop_remainder", "bool", True, "drop the last incomplete training batch"),
        ("num_samples", "int", None, "use only this many samples (all when empty)", {"nullable": True, "bounds": "non_negative"}),
        ("aug_repeats", "int", 0, "repeated augmentation count (0 or 1: off)", {"bounds": "non_negative"}),
    ),
    _group(
        "augmentation",
        ("image_resize", "int", 224, "training crop and validation crop size", {"bounds": "positive"}),
        ("scale", "floats", [0.08, 1.0], "random resized crop area range"),
        ("ratio", "floats", [0.75, 1.333], "random resized crop aspect range"),
        ("hflip", "float", 0.5, "horizontal flip probability", {"bounds": "unit_interval"}),
        ("vflip", "float", 0.0, "vertical flip probability", {"bounds": "unit_interval"}),
        ("color_jitter", "number_or_floats", 0.4, "colour jitter strength (one value or brightness, contrast, saturation[, hue])", {"nullable": True}),
        ("interpolation", "str", "bilinear", "resize interpolation", {"choices": tuple(INTERPOLATIONS)}),
        ("auto_augment", "str", None, "randaug-m9-mstd0.5, autoaug, trivialaugwide or augmix", {"nullable": True}),
        ("re_prob", "float", 0.0, "random erasing probability", {"bounds": "unit_interval"}),
        ("re_scale", "floats", [0.02, 0.33], "random erasing area range"),
        ("re_ratio", "floats", [0.3, 3.3], "random erasing aspect range"),
        ("re_value", "str_or_number", 0, "random erasing fill: a number or 'random'"),
        ("re_max_attempts", "int", 10, "random erasing attempts"),
        ("mean", "floats", list(IMAGENET_DEFAULT_MEAN), "normalisation mean, 0-255 scale"),
        ("std", "floats", list(IMAGENET_DEFAULT_STD), "normalisation std, 0-255 scale"),
        ("crop_pct", "float", DEFAULT_CROP_PCT, "validation: resize to image_resize / crop_pct, then centre crop", {"bounds": "unit_interval"}),
        ("mixup", "float", 0.0, "mixup beta-distribution alpha (0: off)", {"bounds": "non_negative"}),
        ("cutmix", "float", 0.0, "cutmix beta-distribution alpha (0: off)", {"bounds": "non_negative"}),
        ("cutmix_prob", "float", 1.0, "probability of applying mixup or cutmix to a batch", {"bounds": "unit_interval"}),
    ),
    _group(
        "model",
        ("model", "str", "mobilenet_v2_100", "model name (mindcv.list_models())"),
        ("num_classes", "int", 1000, "number of classes", {"bounds": "positive"}),
        ("in_channels", "int", 3, "input image channels", {"bounds": "positive"}),
        ("drop_rate", "float", None, "classifier dropout (empty: the model's default)", {"nullable": True, "bounds": "unit_interval"}),
        ("pretrained", "bool", False, "start from the model's published weights"),
        ("ckpt_path", "str", "", "checkpoint to start from (fine-tune) or to resume (with resume_opt)"),
        ("resume_opt", "bool", False, "resume epoch, optimizer, LR schedule, EMA and loss scale from ckpt_path"),
        ("ema", "bool", False, "keep an exponential moving average of the weights"),
        ("ema_decay", "float", 0.9999, "EMA decay", {"bounds": "unit_interval"}),
    ),
    _group(
        "checkpoint",
        ("ckpt_save_dir", "str", "./ckpt", "folder for checkpoints, logs, summary.csv and the resolved config"),
        ("ckpt_save_interval", "int", 1, "epochs between checkpoints", {"bounds": "positive"}),
        ("ckpt_save_steps", "int", 0, "optimizer steps between saves of the resumable <model>-latest_step.ckpt (0: off)", {"bounds": "non_negative"}),
        ("ckpt_save_policy", "str", "latest_k", "which checkpoints to keep", {"choices": ("latest_k", "top_k")}),
        ("keep_checkpoint_max", "int", 10, "number of checkpoints to keep", {"bounds": "positive"}),
    ),
    _group(
        "train",
        ("epoch_size", "int", 90, "number of epochs", {"bounds": "positive"}),
        ("dataset_sink_mode", "bool", True, "accepted for MindCV compatibility, no effect: the step loop runs on the host (a warning says so when set)"),
        ("amp_level", "str", "O0", "mixed precision: O0 fp32, O1/O2 mixed, O3 fp16", {"choices": ("O0", "O1", "O2", "O3")}),
        ("val_amp_level", "str", None, "mixed precision for validation (empty: amp_level)", {"nullable": True, "choices": ("O0", "O1", "O2", "O3")}),
        ("loss_scale_type", "str", "fixed", "fixed or dynamic loss scaling", {"choices": ("fixed", "dynamic")}),
        ("loss_scale", "float", 1.0, "fixed loss scale, or the initial dynamic one", {"bounds": "positive"}),
        ("drop_overflow_update", "bool", False, "skip steps whose gradients overflow (always on with a dynamic scale)"),
        ("clip_grad", "bool", False, "clip gradients by global norm"),
        ("clip_value", "float", 15.0, "global-norm clip threshold", {"bounds": "positive"}),
        ("gradient_accumulation_steps", "int", 1, "micro-batches per optimizer step", {"bounds": "positive"}),
    ),
    _group(
        "optimizer",
        ("opt", "str", "momentum", "sgd, momentum, nesterov, rmsprop, adam, adamw or lamb"),
        ("momentum", "float", 0.9, "momentum", {"bounds": "non_negative"}),
        ("weight_decay", "float", 1e-6, "weight decay", {"bounds": "non_negative"}),
        ("use_nesterov", "bool", False, "Nesterov momentum"),
        ("weight_decay_filter", "str", "disable", "parameters without decay", {"choices": ("disable", "auto", "norm_and_bias")}),
        ("eps", "float", 1e-10, "optimizer epsilon", {"bounds": "non_negative"}),
    ),
    _group(
        "scheduler",
        ("scheduler", "str", "cosine_decay", "constant, cosine_decay, exponential_decay, step_decay, multi_step_decay or one_cycle"),
        ("lr", "float", 0.001, "peak learning rate", {"bounds": "non_negative"}),
        ("min_lr", "float", 1e-6, "final learning rate", {"bounds": "non_negative"}),
        ("warmup_epochs", "int", 3, "linear warmup epochs", {"bounds": "non_negative"}),
        ("warmup_factor", "float", 0.0, "warmup starts at lr x warmup_factor", {"bounds": "non_negative"}),
        ("decay_epochs", "int", 100, "decay length (cosine) or period (step, exponential)", {"bounds": "non_negative"}),
        ("decay_rate", "float", 0.9, "decay factor", {"bounds": "non_negative"}),
        ("multi_step_decay_milestones", "ints", [30, 60, 90], "epochs at which multi_step_decay multiplies by decay_rate"),
        ("lr_epoch_stair", "bool", False, "keep the LR constant within an epoch"),
        ("num_cycles", "int", 1, "cosine cycles"),
        ("cycle_decay", "float", 1.0, "peak LR factor per cosine cycle"),
    ),
    _group(
        "loss",
        ("loss", "str", "CE", "CE (cross entropy) or BCE", {"choices": ("CE", "BCE", "ce", "bce")}),
        ("label_smoothing", "float", 0.0, "label smoothing", {"bounds": "unit_interval"}),
        ("aux_factor", "float", 0.0, "auxiliary loss factor (unused by MobileNetV2)"),
        ("reduction", "str", "mean", "loss reduction", {"choices": ("mean", "sum", "none")}),
    ),
)
OPTIONS = tuple(option for group in OPTIONS for option in group)
SCHEMA: Dict[str, Option] = {option.name: option for option in OPTIONS}

# Old MindCV names -> (new key, value mapping). Read with a warning so old YAML files still run.
LEGACY_KEYS = {
    "filter_bias_and_bn": ("weight_decay_filter", {True: "norm_and_bias", False: "disable"}),
    "dynamic_loss_scale": ("loss_scale_type", {True: "dynamic", False: "fixed"}),
}
LEGACY_VALUES = {"scheduler": {"warmup_cosine_decay": "cosine_decay"}}
# MindCV keys for the ModelArts cloud platform: accepted, unused.
IGNORED_KEYS = ("enable_modelarts", "multi_data_url", "data_url", "ckpt_url", "train_url", "drop_path_rate")
