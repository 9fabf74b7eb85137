"""What a run tells its user: log lines, a progress bar, and summary.csv."""
import csv
import io
import logging
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from tqdm import tqdm

from ..fileio import write_bytes_atomic, write_text_atomic

SUMMARY_FIELDS = ("epoch", "lr", "train_loss", "val_top1", "val_top5", "val_loss", "epoch_time_s", "images_per_second",
                  "val_images_per_second", "skipped_steps")


class _ConsoleHandler(logging.StreamHandler):
    """Writes to sys.stdout as it is at each record (notebooks and tests swap it), not as it was at setup."""

    @property
    def stream(self):
        return sys.stdout

    @stream.setter
    def stream(self, _value) -> None:
        pass


def setup_logging(log_dir: Optional[Path] = None, rank: int = 0, name: str = "train") -> logging.Logger:
    """Log INFO to the console (rank 0) and to `log_dir/{name}.log` (`{name}_rank{N}.log` elsewhere)."""
    root = logging.getLogger("mindcv")
    root.setLevel(logging.INFO)
    root.propagate = False
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    fmt = logging.Formatter(f"%(asctime)s [rank {rank}] %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    if rank == 0:
        console = _ConsoleHandler()
        console.setFormatter(fmt)
        root.addHandler(console)
    if log_dir is not None:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(Path(log_dir) / (f"{name}.log" if rank == 0 else f"{name}_rank{rank}.log"))
        file.setFormatter(fmt)
        root.addHandler(file)
    return root


def progress_bar(total: int, description: str, enabled: bool, unit: str = "step", initial: int = 0) -> tqdm:
    """A progress bar on a terminal only: in a log file, CI or an msrun log_dir it would write a line per update."""
    shown = enabled and sys.stdout.isatty()
    return tqdm(total=total, initial=initial, desc=description, unit=unit, disable=not shown, dynamic_ncols=True,
                leave=False, file=sys.stdout)


def plot_training_curves(summary_csv: Path, png: Path) -> Path:
    """Draw loss, learning rate and validation top-1/top-5 by epoch from summary.csv into `png` (atomically)."""
    import matplotlib

    matplotlib.use("Agg")  # no display: a file is all we draw
    from matplotlib import pyplot as plt

    with open(summary_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    epochs = [int(r["epoch"]) for r in rows]

    def column(name: str) -> list:
        return [float(r[name]) if r.get(name) else float("nan") for r in rows]

    figure, (loss_axis, lr_axis, accuracy_axis) = plt.subplots(1, 3, figsize=(13, 3.6), constrained_layout=True)
    loss_axis.plot(epochs, column("train_loss"), marker="o", label="train")
    if any(r.get("val_loss") for r in rows):
        loss_axis.plot(epochs, column("val_loss"), marker="o", label="validation")
    loss_axis.set(title="loss", xlabel="epoch")
    loss_axis.legend()
    lr_axis.plot(epochs, column("lr"), marker="o")
    lr_axis.set(title="learning rate (end of epoch)", xlabel="epoch")
    for name, label in (("val_top1", "top-1"), ("val_top5", "top-5")):
        accuracy_axis.plot(epochs, column(name), marker="o", label=label)
    accuracy_axis.set(title="validation accuracy", xlabel="epoch", ylim=(0, 1))
    accuracy_axis.legend()
    for axis in (loss_axis, lr_axis, accuracy_axis):
        axis.grid(alpha=0.3)
        axis.xaxis.get_major_locator().set_params(integer=True)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100)
    plt.close(figure)
    write_bytes_atomic(png, buffer.getvalue())
    return Path(png)


class SummaryWriter:
    """Appends one row per epoch to summary.csv, flushed at once so a crash keeps every finished epoch."""

    def __init__(self, path: Path, fields: Sequence[str] = SUMMARY_FIELDS) -> None:
        self.path = Path(path)
        self.fields = fields
        if not self.path.is_file():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "w", newline="") as f:
                csv.writer(f).writerow(fields)

    def drop_epochs_from(self, epoch: int) -> None:
        """Forget rows of epochs a resumed run will train again."""
        with open(self.path, newline="") as f:
            rows = [r for r in csv.DictReader(f) if int(r["epoch"]) < epoch]
        text = io.StringIO()
        writer = csv.DictWriter(text, self.fields)
        writer.writeheader()
        writer.writerows(rows)
        write_text_atomic(self.path, text.getvalue())

    def write(self, row: Dict[str, object]) -> None:
        with open(self.path, "a", newline="") as f:
            csv.DictWriter(f, self.fields).writerow({k: _fmt(row.get(k)) for k in self.fields})


def _fmt(value: object) -> object:
    if isinstance(value, float):
        return f"{value:.6g}"
    return "" if value is None else value
