"""Predict the classes of image files: top-k class names and probabilities, as a table or JSON."""
import json
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterator, List, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import nn
from mindspore.dataset import vision

from ..config import EvalConfig, Option, RunConfig
from ..data import create_dataset
from ..data.image_check import image_files
from ..data.dataset_factory import dataset_kind
from ..errors import ConfigError, DataError
from ..fileio import write_text_atomic
from ..models import get_pretrained_cfg
from . import builders
from .labels import dataset_class_indexing, index_names, load_label_names
from .threads import configure_threads

_logger = logging.getLogger(__name__)

# infer.py's own options, beside the config keys (mindcv.config.parse_args(extra_options=...)).
INFER_OPTIONS = (
    Option("input", "strs", None, "image files and/or folders (searched recursively)", "inference", nullable=True),
    Option("topk", "int", 5, "classes shown per image", "inference", bounds="positive"),
    Option(
        "label_names", "str", "",
        "class names: imagenet, fashion_mnist, cifar10 or a file with one name per line "
        "(default: the dataset's when one is configured, else the model's)", "inference",
    ),
    Option("output", "str", "", "also write the predictions to this .json file", "inference"),
    Option("skip_bad", "bool", False, "skip unreadable images with a warning instead of stopping", "inference"),
)


@dataclass
class Prediction:
    file: str
    indices: List[int]
    probabilities: List[float]
    names: List[str]

    def to_dict(self) -> Dict[str, Any]:
        top = zip(self.indices, self.names, self.probabilities)
        return {"file": self.file, "topk": [{"index": i, "name": n, "probability": p} for i, n, p in top]}


@dataclass
class InferenceReport:
    model: str
    checkpoint: str
    label_source: str
    settings: Dict[str, Any]
    predictions: List[Prediction] = field(default_factory=list)
    skipped: List[Tuple[str, str]] = field(default_factory=list)

    def to_dict(self) -> Dict[str, Any]:
        return {
            "model": self.model,
            "checkpoint": self.checkpoint,
            "label_names": self.label_source,
            **self.settings,
            "predictions": [p.to_dict() for p in self.predictions],
            "skipped": [{"file": file, "error": reason} for file, reason in self.skipped],
        }


def find_images(inputs: Sequence[str]) -> List[Path]:
    """The given image files, and every image file under the given folders (sorted per folder)."""
    found: List[Path] = []
    for entry in inputs:
        path = Path(entry)
        if path.is_dir():
            found += image_files(path)
        elif path.is_file():
            found.append(path)
        else:
            raise DataError(f"{path}: no such image file or folder")
    return found


def eval_image_ops(dataset_name: str, settings: EvalConfig) -> list:
    """The evaluation transforms for one encoded image file (decode first, as folder data sets do)."""
    ops = builders.eval_transforms(dataset_name, settings)
    # CIFAR-10's evaluation ops expect decoded arrays; files need decoding first.
    return [vision.Decode()] + ops if dataset_kind(dataset_name) == "cifar10" else ops


def _reason(err: Exception) -> str:
    """The useful line of an error; MindSpore's eager ops put it after '[ERROR]' in a framed message."""
    text = str(err).strip()
    match = re.search(r"\[ERROR\]\s*(.+)", text)
    return match[1].strip() if match else (text.splitlines()[0] if text else type(err).__name__)


def load_image(path: Path, ops: Sequence) -> np.ndarray:
    """One preprocessed CHW float32 image; a DataError naming the file if it cannot be read or decoded."""
    try:
        image = np.fromfile(path, np.uint8)
        for op in ops:
            image = op(image)
    except (OSError, RuntimeError, ValueError, TypeError) as err:
        raise DataError(f"{path}: cannot read this image ({_reason(err)})") from None
    return np.asarray(image, np.float32)


def _batches(files: Sequence[Path], ops: Sequence, batch_size: int, skip_bad: bool, skipped: list) -> Iterator:
    """(paths, stacked images) per batch; unreadable files raise, or with `skip_bad` are logged and left out."""
    paths, images = [], []
    for path in files:
        try:
            images.append(load_image(path, ops))
        except DataError as err:
            if not skip_bad:
                raise
            _logger.warning("skipped %s", err)
            skipped.append((str(path), str(err)))
            continue
        paths.append(path)
        if len(paths) == batch_size:
            yield paths, np.stack(images)
            paths, images = [], []
    if paths:
        yield paths, np.stack(images)


def predict(
    network: nn.Cell, files: Sequence[Path], ops: Sequence, names: Sequence[str], topk: int = 5,
    batch_size: int = 32, skip_bad: bool = False,
) -> Tuple[List[Prediction], List[Tuple[str, str]]]:
    """Top-k classes (softmax probabilities) of every file; also the (file, reason) of skipped ones."""
    network.set_train(False)
    predictions: List[Prediction] = []
    skipped: List[Tuple[str, str]] = []
    for paths, images in _batches(files, ops, batch_size, skip_bad, skipped):
        logits = network(ms.Tensor(images)).asnumpy().astype(np.float64)
        shifted = logits - logits.max(axis=1, keepdims=True)
        probabilities = np.exp(shifted) / np.exp(shifted).sum(axis=1, keepdims=True)
        ranked = np.argsort(-probabilities, axis=1, kind="stable")[:, :topk]
        for path, row, order in zip(paths, probabilities, ranked):
            indices = [int(i) for i in order]
            predictions.append(Prediction(str(path), indices, [float(row[i]) for i in indices], [names[i] for i in indices]))
    return predictions, skipped


def resolve_label_names(cfg: RunConfig) -> Tuple[List[str], str]:
    """Class names and where they came from: label_names, else the configured data set, else the model's."""
    data, num_classes = cfg.data, cfg.model.num_classes
    label_names = cfg.options["label_names"]
    if label_names:
        return load_label_names(label_names, num_classes), label_names
    kind = dataset_kind(data.dataset)
    if kind != "folder" or data.data_dir or data.class_map:
        folder_indexing = None
        if kind == "folder" and data.data_dir:
            dataset = create_dataset(data.dataset, root=data.data_dir, split=data.val_split, shuffle=False, class_map=data.class_map or None)
            folder_indexing = dataset.get_class_indexing()
        indexing = dataset_class_indexing(data.dataset, folder_indexing, data.class_map or None)
        if kind == "folder" or len(indexing) == num_classes:
            return index_names(indexing, num_classes), f"dataset {data.dataset}"
    model_cfg = get_pretrained_cfg(cfg.model.model)
    if model_cfg.label_names and model_cfg.num_classes == num_classes:
        return load_label_names(model_cfg.label_names, num_classes), model_cfg.label_names
    return index_names({}, num_classes), "class indices"


def format_table(predictions: Sequence[Prediction]) -> str:
    """One row per image: the file, then 'name (probability)' for each of the top-k classes."""
    if not predictions:
        return "no predictions"
    cells = [[p.file] + [f"{n} ({prob:.1%})" for n, prob in zip(p.names, p.probabilities)] for p in predictions]
    header = ["image"] + [f"top-{k + 1}" for k in range(len(cells[0]) - 1)]
    widths = [max(len(row[i]) for row in cells + [header]) for i in range(len(header))]
    lines = ["  ".join(text.ljust(w) for text, w in zip(row, widths)).rstrip() for row in [header] + cells]
    return "\n".join(lines)


def infer(cfg: RunConfig) -> InferenceReport:
    """Classify the `input` files with the weights in `cfg` (mindcv.config plus INFER_OPTIONS)."""
    options, model = cfg.options, cfg.model
    if not options["input"]:
        raise ConfigError("config key 'input': give image files or folders, e.g. --input photo.jpg images/")
    if options["output"] and Path(options["output"]).suffix.lower() != ".json":
        raise ConfigError(f"config key 'output' ({options['output']}): the name must end with .json")
    files = find_images(options["input"])
    if not files:
        raise DataError(f"no image files found in {', '.join(options['input'])}")
    names, label_source = resolve_label_names(cfg)
    ops = eval_image_ops(cfg.data.dataset, cfg.eval)
    builders.setup_context(cfg.system)
    configure_threads(cfg.system.num_threads)
    checkpoint = model.weights_source()
    if not checkpoint:
        _logger.warning("neither ckpt_path nor pretrained is set: predicting with freshly initialised weights")
    network = builders.build_model(model, cfg.train.val_amp_level, ema=model.ema, strict_head=True)
    topk = min(options["topk"], model.num_classes)
    predictions, skipped = predict(network, files, ops, names, topk, cfg.data.val_batch_size, options["skip_bad"])
    report = InferenceReport(model.model, checkpoint, label_source, cfg.eval.kwargs(), predictions, skipped)
    if options["output"]:
        write_text_atomic(options["output"], json.dumps(report.to_dict(), indent=2) + "\n")
    return report
