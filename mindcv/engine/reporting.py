"""What a run tells its user: log lines, a progress bar, and summary.csv."""
import csv
import io
import logging
import sys
from pathlib import Path
from typing import Dict, Optional, Sequence

from tqdm import tqdm

from ..fileio import write_text_atomic

SUMMARY_FIELDS = ("epoch", "lr", "train_loss", "val_top1", "val_top5", "val_loss", "epoch_time_s", "images_per_second", "skipped_steps")


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
        console = logging.StreamHandler(sys.stdout)
        console.setFormatter(fmt)
        root.addHandler(console)
    if log_dir is not None:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(Path(log_dir) / (f"{name}.log" if rank == 0 else f"{name}_rank{rank}.log"))
        file.setFormatter(fmt)
        root.addHandler(file)
    return root


def progress_bar(total: int, description: str, enabled: bool, initial: int = 0) -> tqdm:
    return tqdm(total=total, initial=initial, desc=description, unit="step", disable=not enabled, dynamic_ncols=True,
                leave=False, file=sys.stdout)


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
