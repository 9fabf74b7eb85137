"""validate: exact accuracy of weights over a whole split, on one process or many, with result files."""
import logging
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional

from ..config import Option, RunConfig
from ..data.dataset_factory import dataset_kind
from ..deploy.runner import ExportedModel, load_exported
from ..errors import ConfigError
from . import builders
from .distributed import init_distributed
from .evaluate import evaluate
from .labels import dataset_class_indexing, index_names
from .reporting import progress_bar, setup_logging
from .threads import configure_threads
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


def _check_labels_fit(class_names: List[str], label_count: int, cfg: RunConfig) -> None:
    """The data set's labels must be indices of the model's classes (or per-class counts would overflow)."""
    data, num_classes = cfg.data, cfg.model.num_classes
    if label_count > num_classes:
        raise ConfigError(
            f"{data.dataset} '{data.val_split}' ({data.data_dir or 'default folder'}) has {label_count} classes "
            f"but num_classes is {num_classes}; set num_classes, or a class_map in the model's class order"
        )
    if dataset_kind(data.dataset) == "folder" and not data.class_map and label_count < num_classes:
        _logger.warning(
            "the folder has %d classes, the model %d: labels are the sorted folder indices 0..%d (%s, ...); "
            "pass class_map if the folders are a subset of the model's classes",
            label_count, num_classes, label_count - 1, ", ".join(class_names[:3]),
        )


def _open_model_file(cfg: RunConfig) -> ExportedModel:
    """The exported model, checked against the transforms' image size and num_classes before any data is read;
    an ONNX file runs on num_threads onnxruntime threads (0: its default)."""
    path, num_classes = cfg.options["model_file"], cfg.model.num_classes
    model = load_exported(path, threads=cfg.system.num_threads)
    outputs = model.probe((cfg.model.in_channels, cfg.eval.image_resize, cfg.eval.image_resize))
    if outputs != num_classes:
        raise ConfigError(f"{path}: gives {outputs} outputs per image but num_classes is {num_classes}; set num_classes")
    return model


def validate(cfg: RunConfig) -> ValidationReport:
    """Top-1/top-5/loss of the weights in `cfg` (mindcv.config plus VALIDATE_OPTIONS) over every sample.

    Every process reads a disjoint shard and the counts are summed, so the result is
    exact for any batch size and number of processes. Rank 0 writes the files.
    With `model_file`, an exported file is run instead of the network, on the same data
    and transforms, in batches of its static batch size if it has one.
    """
    data, model, options = cfg.data, cfg.model, cfg.options
    if options["results_file"]:
        check_results_file(options["results_file"])
    if options["confusion_matrix"]:
        check_confusion_matrix(options["confusion_matrix"], model.num_classes)
    builders.setup_context(cfg.system)
    exported = _open_model_file(cfg) if options["model_file"] else None
    if exported and exported.batch_size:
        cfg = replace(cfg, data=replace(data, val_batch_size=exported.batch_size))
    rank, world = init_distributed(cfg.system.distribute)
    setup_logging(None, rank, "validate")
    configure_threads(cfg.system.num_threads)
    eval_data = builders.build_eval_data(cfg, rank, world)
    folder_indexing = eval_data.loader.get_class_indexing() if dataset_kind(data.dataset) == "folder" else None
    indexing = dataset_class_indexing(data.dataset, folder_indexing, data.class_map or None)
    class_names = index_names(indexing, model.num_classes)
    _check_labels_fit(class_names, max((folder_indexing or indexing).values()) + 1, cfg)
    weights = options["model_file"] or model.weights_source()
    if not weights:
        _logger.warning("neither ckpt_path nor pretrained is set: validating freshly initialised weights")
    network = exported or builders.build_model(model, cfg.train.val_amp_level, ema=model.ema, strict_head=True)

    bar = progress_bar(eval_data.num_samples, "validate", enabled=rank == 0, unit="img")
    metrics = evaluate(network, eval_data.batches(), model.num_classes, progress=bar.update, confusion=bool(options["confusion_matrix"]))
    bar.close()
    record = {
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": model.model,
        "checkpoint": weights,
        "ema": model.ema,
        "dataset": data.dataset,
        "data_dir": data.data_dir,
        "split": data.val_split,
        "num_classes": model.num_classes,
        **cfg.eval.kwargs("mean", "std"),
        "batch_size": eval_data.batch_size,
        "processes": world,
        **{key: metrics[key] for key in ("count", "correct_top1", "correct_top5", "top1", "top5", "loss", "images_per_second")},
    }
    report = ValidationReport(record, rank=rank, confusion_matrix=metrics.get("confusion_matrix"))
    if options["per_class"]:
        report.per_class = per_class_accuracy(metrics["per_class_correct"], metrics["per_class_count"], class_names)
    if rank == 0:
        if options["results_file"]:
            report.written += write_results(options["results_file"], record, report.per_class, report.confusion_matrix)
        if options["confusion_matrix"]:
            title = f"{model.model} on {data.dataset} '{data.val_split}': top-1 {record['top1']:.2%} of {record['count']}"
            report.written.append(save_confusion_matrix(options["confusion_matrix"], report.confusion_matrix, class_names, title))
    return report
