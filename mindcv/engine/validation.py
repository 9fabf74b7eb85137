"""validate: exact accuracy of weights over a whole split, on one process or many, with result files."""
import argparse
import logging
import sys
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

from tqdm import tqdm

from ..config import Option
from ..data.dataset_factory import dataset_kind
from ..deploy.runner import ExportedModel, load_exported
from ..errors import ConfigError
from ..models import get_pretrained_cfg
from . import builders
from .distributed import init_distributed
from .evaluate import evaluate
from .labels import dataset_class_indexing, index_names
from .reporting import setup_logging
from .results import check_confusion_matrix, check_results_file, per_class_accuracy, save_confusion_matrix, write_results

_logger = logging.getLogger(__name__)

# validate.py's own options, beside the config keys (mindcv.config.parse_args(extra_options=...)).
VALIDATE_OPTIONS = (
    Option("results_file", "str", "", "write the results to this .json file, or append a row to this .csv file", "validation"),
    Option("per_class", "bool", False, "print and save the top-1 accuracy of every class", "validation"),
    Option("confusion_matrix", "str", "", "draw the confusion matrix into this .png file (at most 50 classes)", "validation"),
    Option("model_file", "str", "", "validate this exported .onnx or .mindir file (export.py) instead of weights", "validation"),
)


@dataclass
class ValidationReport:
    """What one validation found; `record` has the RESULT_FIELDS of mindcv.engine.results."""

    record: Dict[str, Any]
    per_class: Optional[List[Dict[str, Any]]] = None
    confusion_matrix: Optional[List[List[int]]] = None
    written: List[Path] = field(default_factory=list)
    rank: int = 0

    def summary(self) -> str:
        r = self.record
        return (
            f"{r['model']} on {r['dataset']} '{r['split']}': top-1 {r['top1']:.2%} ({r['correct_top1']}/{r['count']}), "
            f"top-5 {r['top5']:.2%} ({r['correct_top5']}/{r['count']}), loss {r['loss']:.4f}, "
            f"{r['images_per_second']:.1f} images/s"
        )


def _weights_source(args: argparse.Namespace) -> str:
    if args.ckpt_path:
        return args.ckpt_path
    return get_pretrained_cfg(args.model).url if args.pretrained else ""


def _check_labels_fit(class_names: List[str], label_count: int, args: argparse.Namespace) -> None:
    """The data set's labels must be indices of the model's classes (or per-class counts would overflow)."""
    if label_count > args.num_classes:
        raise ConfigError(
            f"{args.dataset} '{args.val_split}' ({args.data_dir or 'default folder'}) has {label_count} classes "
            f"but num_classes is {args.num_classes}; set num_classes, or a class_map in the model's class order"
        )
    if dataset_kind(args.dataset) == "folder" and not args.class_map and label_count < args.num_classes:
        _logger.warning(
            "the folder has %d classes, the model %d: labels are the sorted folder indices 0..%d (%s, ...); "
            "pass class_map if the folders are a subset of the model's classes",
            label_count, args.num_classes, label_count - 1, ", ".join(class_names[:3]),
        )


def _open_model_file(args: argparse.Namespace) -> ExportedModel:
    """The exported model, checked against the transforms' image size and num_classes before any data is read."""
    model = load_exported(args.model_file)
    outputs = model.probe((args.in_channels, args.image_resize, args.image_resize))
    if outputs != args.num_classes:
        raise ConfigError(f"{args.model_file}: gives {outputs} outputs per image but num_classes is {args.num_classes}; set num_classes")
    return model


def validate(args: argparse.Namespace) -> ValidationReport:
    """Top-1/top-5/loss of the weights in `args` (mindcv.config plus VALIDATE_OPTIONS) over every sample.

    Every process reads a disjoint shard and the counts are summed, so the result is
    exact for any batch size and number of processes. Rank 0 writes the files.
    With `model_file`, an exported file is run instead of the network, on the same data
    and transforms, in batches of its static batch size if it has one.
    """
    if args.results_file:
        check_results_file(args.results_file)
    if args.confusion_matrix:
        check_confusion_matrix(args.confusion_matrix, args.num_classes)
    builders.setup_context(args)
    exported = _open_model_file(args) if args.model_file else None
    if exported and exported.batch_size:
        args = argparse.Namespace(**{**vars(args), "val_batch_size": exported.batch_size})
    rank, world = init_distributed(args.distribute)
    setup_logging(None, rank, "validate")
    data = builders.build_eval_data(args, rank, world)
    folder_indexing = data.loader.get_class_indexing() if dataset_kind(args.dataset) == "folder" else None
    indexing = dataset_class_indexing(args.dataset, folder_indexing, args.class_map or None)
    class_names = index_names(indexing, args.num_classes)
    _check_labels_fit(class_names, max((folder_indexing or indexing).values()) + 1, args)
    weights = args.model_file or _weights_source(args)
    if not weights:
        _logger.warning("neither ckpt_path nor pretrained is set: validating freshly initialised weights")
    network = exported or builders.build_model(args, amp_level=args.val_amp_level or args.amp_level, ema=args.ema, strict_head=True)

    bar = tqdm(total=data.num_samples, desc="validate", unit="img", disable=rank != 0, leave=False, file=sys.stdout)
    metrics = evaluate(network, data.batches(), args.num_classes, progress=bar.update, confusion=bool(args.confusion_matrix))
    bar.close()
    record = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": args.model,
        "checkpoint": weights,
        "ema": args.ema,
        "dataset": args.dataset,
        "data_dir": args.data_dir,
        "split": args.val_split,
        "num_classes": args.num_classes,
        "image_resize": args.image_resize,
        "crop_pct": args.crop_pct,
        "interpolation": args.interpolation,
        "batch_size": data.batch_size,
        "processes": world,
        **{key: metrics[key] for key in ("count", "correct_top1", "correct_top5", "top1", "top5", "loss", "images_per_second")},
    }
    report = ValidationReport(record, rank=rank, confusion_matrix=metrics.get("confusion_matrix"))
    if args.per_class:
        report.per_class = per_class_accuracy(metrics["per_class_correct"], metrics["per_class_count"], class_names)
    if rank == 0:
        if args.results_file:
            report.written += write_results(args.results_file, record, report.per_class, report.confusion_matrix)
        if args.confusion_matrix:
            title = f"{args.model} on {args.dataset} '{args.val_split}': top-1 {record['top1']:.2%} of {record['count']}"
            report.written.append(save_confusion_matrix(args.confusion_matrix, report.confusion_matrix, class_names, title))
    return report
