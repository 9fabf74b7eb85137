"""Validation results: per-class accuracy, JSON or CSV result files, and a confusion-matrix picture."""
import csv
import io
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np

from ..errors import ConfigError
from ..fileio import write_bytes_atomic, write_text_atomic

PathLike = Union[str, Path]
RESULT_FIELDS = (
    "date", "model", "checkpoint", "ema", "dataset", "data_dir", "split", "num_classes", "image_resize", "crop_pct",
    "interpolation", "batch_size", "processes", "count", "correct_top1", "correct_top5", "top1", "top5", "loss",
    "images_per_second",
)
PER_CLASS_FIELDS = ("index", "name", "correct", "count", "accuracy")
RESULT_SUFFIXES = (".json", ".csv")
MAX_CONFUSION_CLASSES = 50
MAX_ANNOTATED_CLASSES = 30  # counts are written into the cells up to this size
LABEL_CHARS = 20  # class names are cut to a readable length


def check_results_file(path: str) -> None:
    """Fail before a long validation, not after it, on a results file name that cannot be written."""
    if Path(path).suffix.lower() not in RESULT_SUFFIXES:
        raise ConfigError(f"config key 'results_file' ({path}): the name must end with .json or .csv")


def check_confusion_matrix(path: str, num_classes: int) -> None:
    if Path(path).suffix.lower() != ".png":
        raise ConfigError(f"config key 'confusion_matrix' ({path}): the name must end with .png")
    if num_classes > MAX_CONFUSION_CLASSES:
        raise ConfigError(
            f"config key 'confusion_matrix': {num_classes} classes are too many to draw "
            f"(at most {MAX_CONFUSION_CLASSES}); use per_class True for a per-class table instead"
        )


def per_class_accuracy(correct: Sequence[int], counts: Sequence[int], names: Sequence[str]) -> List[Dict[str, Any]]:
    """One row per class that has samples: index, name, correct, count, accuracy."""
    return [
        {"index": index, "name": names[index], "correct": int(hit), "count": int(seen), "accuracy": hit / seen}
        for index, (hit, seen) in enumerate(zip(correct, counts))
        if seen > 0
    ]


def format_per_class(rows: Sequence[Dict[str, Any]]) -> str:
    """A text table of `per_class_accuracy` rows."""
    width = max([len("class")] + [len(row["name"]) for row in rows])
    lines = [f"{'index':>5}  {'class':<{width}}  {'correct':>7}  {'count':>7}  {'top-1':>7}"]
    for row in rows:
        lines.append(
            f"{row['index']:>5}  {row['name']:<{width}}  {row['correct']:>7}  {row['count']:>7}  {row['accuracy']:>7.2%}"
        )
    return "\n".join(lines)


def _write_csv(path: Path, fields: Sequence[str], rows: Sequence[Dict[str, Any]]) -> None:
    """Append rows; a new file gets the header first, an existing one must have the same columns."""
    if path.is_file() and path.stat().st_size > 0:
        with open(path, newline="") as f:
            header = next(csv.reader(f), [])
        if header != list(fields):
            raise ConfigError(f"{path}: existing CSV file has other columns ({', '.join(header[:4])}, ...); choose another file")
        mode = "a"
    else:
        mode = "w"
    with open(path, mode, newline="") as f:
        writer = csv.DictWriter(f, fields)
        if mode == "w":
            writer.writeheader()
        writer.writerows(rows)


def per_class_csv_path(path: PathLike) -> Path:
    path = Path(path)
    return path.with_name(f"{path.stem}_per_class.csv")


def write_results(
    path: PathLike,
    record: Dict[str, Any],
    per_class: Optional[Sequence[Dict[str, Any]]] = None,
    confusion_matrix: Optional[Sequence[Sequence[int]]] = None,
) -> List[Path]:
    """Write `record` (RESULT_FIELDS) to a .json file, or append it as a row to a .csv file.

    JSON holds the per-class rows and the confusion matrix too, when given; CSV puts
    the per-class rows in `<stem>_per_class.csv` (appended, with the checkpoint and
    date of the run). Returns the files written.
    """
    path = Path(path)
    check_results_file(str(path))
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".json":
        content = dict(record)
        if per_class is not None:
            content["per_class"] = list(per_class)
        if confusion_matrix is not None:
            content["confusion_matrix"] = [list(row) for row in confusion_matrix]
        write_text_atomic(path, json.dumps(content, indent=2) + "\n")
        return [path]
    _write_csv(path, RESULT_FIELDS, [{field: record[field] for field in RESULT_FIELDS}])
    if per_class is None:
        return [path]
    sidecar = per_class_csv_path(path)
    run = {"date": record["date"], "checkpoint": record["checkpoint"]}
    _write_csv(sidecar, ("date", "checkpoint") + PER_CLASS_FIELDS, [{**run, **row} for row in per_class])
    return [path, sidecar]


def _label(name: str) -> str:
    return name if len(name) <= LABEL_CHARS else name[: LABEL_CHARS - 1] + "~"


def plot_confusion_matrix(matrix: Sequence[Sequence[int]], names: Sequence[str], title: str = ""):
    """A matplotlib figure of a confusion matrix (rows: true class, columns: predicted), with counts and names.

    Each cell's colour is its share of its row (the true class's images), so rows of
    rare classes are as readable as those of common ones.
    """
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    from matplotlib import pyplot as plt

    counts = np.asarray(matrix, dtype=np.int64)
    num_classes = counts.shape[0]
    if counts.shape != (num_classes, num_classes) or len(names) != num_classes:
        raise ValueError(f"confusion matrix of shape {counts.shape} does not match {len(names)} class names")
    shares = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = max(4.0, 0.45 * num_classes + 2.5)
    figure, axis = plt.subplots(figsize=(side + 1.2, side), constrained_layout=True)
    image = axis.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0)
    labels = [f"{index} {_label(name)}" for index, name in enumerate(names)]
    axis.set_xticks(range(num_classes), labels, rotation=90, fontsize=8)
    axis.set_yticks(range(num_classes), labels, fontsize=8)
    axis.set(xlabel="predicted class", ylabel="true class", title=title)
    if num_classes <= MAX_ANNOTATED_CLASSES:
        for (row, column), count in np.ndenumerate(counts):
            if count:
                colour = "white" if shares[row, column] > 0.5 else "black"
                axis.text(column, row, str(count), ha="center", va="center", fontsize=7, color=colour)
    figure.colorbar(image, ax=axis, fraction=0.046, label="share of the true class")
    return figure


def save_confusion_matrix(path: PathLike, matrix: Sequence[Sequence[int]], names: Sequence[str], title: str = "") -> Path:
    """Draw the confusion matrix into a PNG file (at most MAX_CONFUSION_CLASSES classes), atomically."""
    from matplotlib import pyplot as plt

    path = Path(path)
    check_confusion_matrix(str(path), len(names))
    path.parent.mkdir(parents=True, exist_ok=True)
    figure = plot_confusion_matrix(matrix, names, title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    plt.close(figure)
    write_bytes_atomic(path, buffer.getvalue())
    return path
