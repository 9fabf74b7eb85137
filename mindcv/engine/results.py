"""Validation results: per-class accuracy, JSON or CSV result files, and a confusion-matrix picture."""
import csv
import json
from pathlib import Path
from typing import Any, Dict, List, Optional, Sequence, Union

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..errors import ConfigError

PathLike = Union[str, Path]
RESULT_FIELDS = (
    "date", "model", "checkpoint", "ema", "dataset", "data_dir", "split", "num_classes", "image_resize", "crop_pct",
    "interpolation", "batch_size", "processes", "count", "correct_top1", "correct_top5", "top1", "top5", "loss",
    "images_per_second",
)
PER_CLASS_FIELDS = ("index", "name", "correct", "count", "accuracy")
RESULT_SUFFIXES = (".json", ".csv")
MAX_CONFUSION_CLASSES = 50
# Picture geometry in pixels: one square cell per (true, predicted) pair, labels cut to a readable length.
CELL = 28
PAD = 8
LABEL_CHARS = 20
LOW_COLOUR = np.array([255, 255, 255])
HIGH_COLOUR = np.array([8, 48, 107])


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
        path.write_text(json.dumps(content, indent=2) + "\n")
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


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple:
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    return right - left, bottom - top


def _count_text(count: int) -> str:
    return str(count) if count < 10000 else f"{count / 1000:.0f}k"


def draw_confusion_matrix(matrix: Sequence[Sequence[int]], names: Sequence[str], title: str = "") -> Image.Image:
    """A heat map of a confusion matrix (rows: true class, columns: predicted), with counts and class names.

    Each cell's colour is its share of its row (the true class's images), so rows of
    rare classes are as readable as those of common ones.
    """
    counts = np.asarray(matrix, dtype=np.int64)
    num_classes = counts.shape[0]
    if counts.shape != (num_classes, num_classes) or len(names) != num_classes:
        raise ValueError(f"confusion matrix of shape {counts.shape} does not match {len(names)} class names")
    font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    labels = [f"{index} {_label(name)}" for index, name in enumerate(names)]
    label_width = max(_text_size(probe, label, font)[0] for label in labels)
    line_height = max(_text_size(probe, "Hg0", font)[1], 10)
    grid = CELL * num_classes
    left = PAD + line_height + PAD + label_width + PAD  # axis title, row labels
    top = PAD + (line_height + PAD) * 2 + label_width + PAD  # title, axis title, column labels
    width = max(left + grid + PAD, PAD * 2 + _text_size(probe, title, font)[0])
    image = Image.new("RGB", (width, top + grid + PAD), "white")
    draw = ImageDraw.Draw(image)

    draw.text((PAD, PAD), title, fill="black", font=font)
    draw.text((left, PAD + line_height + PAD), "predicted class", fill="black", font=font)
    axis = Image.new("RGB", (_text_size(probe, "true class", font)[0] + 2, line_height + 4), "white")
    ImageDraw.Draw(axis).text((0, 0), "true class", fill="black", font=font)
    image.paste(axis.rotate(90, expand=True), (PAD, top))

    row_totals = np.maximum(counts.sum(axis=1, keepdims=True), 1)
    shares = counts / row_totals
    for row, label in enumerate(labels):
        y = top + row * CELL
        label_w, label_h = _text_size(draw, label, font)
        draw.text((left - PAD - label_w, y + (CELL - label_h) // 2), label, fill="black", font=font)
        column_label = Image.new("RGB", (label_w + 2, label_h + 4), "white")
        ImageDraw.Draw(column_label).text((0, 0), label, fill="black", font=font)
        rotated = column_label.rotate(90, expand=True)
        image.paste(rotated, (left + row * CELL + (CELL - rotated.width) // 2, top - PAD - rotated.height))
        for column in range(num_classes):
            x = left + column * CELL
            share = shares[row, column]
            colour = tuple(int(c) for c in np.round(LOW_COLOUR + share * (HIGH_COLOUR - LOW_COLOUR)))
            draw.rectangle((x, y, x + CELL - 1, y + CELL - 1), fill=colour, outline=(210, 210, 210))
            if counts[row, column] > 0:
                text = _count_text(int(counts[row, column]))
                text_w, text_h = _text_size(draw, text, font)
                ink = "white" if share > 0.5 else "black"
                draw.text((x + (CELL - text_w) // 2, y + (CELL - text_h) // 2), text, fill=ink, font=font)
    return image


def save_confusion_matrix(path: PathLike, matrix: Sequence[Sequence[int]], names: Sequence[str], title: str = "") -> Path:
    """Draw the confusion matrix into a PNG file (at most MAX_CONFUSION_CLASSES classes)."""
    path = Path(path)
    check_confusion_matrix(str(path), len(names))
    path.parent.mkdir(parents=True, exist_ok=True)
    draw_confusion_matrix(matrix, names, title).save(path, format="PNG")
    return path
