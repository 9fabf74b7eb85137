"""Which training checkpoints to keep, and the state needed to resume from one."""
import json
import logging
import os
import shutil
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from mindspore import nn

from ..errors import CheckpointError
from ..fileio import atomic_output, write_text_atomic
from .io import load_checkpoint, save_checkpoint

_logger = logging.getLogger(__name__)

INDEX_FILE = "checkpoints.json"
BEST_FILE = "best.ckpt"
EARLIER_BEST_FILE = "best-earlier-run.ckpt"
STEP_FILE_SUFFIX = "-latest_step.ckpt"
# Values a training checkpoint carries beside the parameters. epoch_num counts finished epochs,
# step_in_epoch the steps done in the next one (0 in epoch checkpoints), step_num both (epoch_num x steps + step_in_epoch).
STATE_KEYS = ("epoch_num", "step_num", "step_in_epoch", "steps_per_epoch", "metric", "config")


class CheckpointManager:
    """Saves `{prefix}-{epoch}_{steps_per_epoch}.ckpt` files and prunes them.

    `policy` 'latest_k' keeps the `keep_max` newest, 'top_k' the `keep_max` with the
    best metric; the newest is always kept too, so a run can resume. The best so
    far is copied to best.ckpt. The list survives restarts in checkpoints.json, which
    changes only by atomic rename and never lists a file before it is complete.
    `start_new_run` (a run that does not resume) sets an earlier run's list aside, so
    its best metric cannot keep this run's best.ckpt from being written.

    `save_step` writes the state in the middle of an epoch to `{prefix}-latest_step.ckpt`,
    replacing the previous one atomically; it is not listed, pruned or ranked, and
    `newest_checkpoint` weighs it against the listed ones.
    """

    def __init__(
        self,
        save_dir: Union[str, os.PathLike],
        prefix: str,
        keep_max: int = 10,
        policy: str = "latest_k",
        start_new_run: bool = False,
    ) -> None:
        if policy not in ("latest_k", "top_k"):
            raise ValueError(f"unknown checkpoint policy '{policy}'")
        self.save_dir = Path(save_dir)
        self.prefix = prefix
        self.keep_max = keep_max
        self.policy = policy
        self.records: List[Dict] = read_index(self.save_dir)
        self._remove_partial_files()
        if start_new_run and (self.records or step_checkpoints(self.save_dir)):
            self._set_aside_earlier_run()
        self.latest: Optional[Path] = newest_checkpoint(self.save_dir)

    @property
    def best(self) -> Optional[Dict]:
        scored = [r for r in self.records if r["metric"] is not None]
        return max(scored, key=lambda r: r["metric"]) if scored else None

    def _remove_partial_files(self) -> None:
        """Delete the temporary files of saves a killed run left half-written (io.save_checkpoint's and MindSpore's)."""
        for partial in self.save_dir.glob(f".{self.prefix}-*.tmp*"):
            _logger.info("removing %s, left by an interrupted save", partial)
            partial.unlink(missing_ok=True)

    def _set_aside_earlier_run(self) -> None:
        """Start an empty list; the earlier run's best.ckpt becomes best-earlier-run.ckpt, so
        best.ckpt always belongs to the current run (even one that never evaluates)."""
        moved = ""
        if (self.save_dir / BEST_FILE).is_file():
            os.replace(self.save_dir / BEST_FILE, self.save_dir / EARLIER_BEST_FILE)
            moved = f"; its {BEST_FILE} is now {EARLIER_BEST_FILE}"
        for stale in step_checkpoints(self.save_dir):  # a resume of this run must not continue the earlier one
            stale.unlink()
            moved += f"; removed its {stale.name}"
        _logger.warning(
            "%s holds %d checkpoint(s) of an earlier run%s. This run starts a new list and overwrites "
            "the earlier files that share its names; resume with --ckpt_path and --resume_opt to continue that run instead",
            self.save_dir,
            len(self.records),
            moved,
        )
        self.records = []
        self._write_index()

    def _write_index(self) -> None:
        write_text_atomic(self.save_dir / INDEX_FILE, json.dumps(self.records, indent=1))

    def save(
        self,
        obj: Union[nn.Cell, list],
        epoch: int,
        steps_per_epoch: int,
        metric: Optional[float] = None,
        config: str = "",
    ) -> Path:
        """Write one checkpoint with its training state, then prune and update best.ckpt."""
        name = f"{self.prefix}-{epoch}_{steps_per_epoch}.ckpt"
        state = {"epoch_num": epoch, "step_num": epoch * steps_per_epoch, "metric": -1.0 if metric is None else metric, "config": config}
        last_good = self.latest
        try:
            path = save_checkpoint(obj, self.save_dir / name, append_dict=state)
            previous_best = self.best
            self.records = [r for r in self.records if r["file"] != name] + [{"file": name, "epoch": epoch, "metric": metric}]
            if metric is not None and (previous_best is None or metric > previous_best["metric"]):
                with atomic_output(self.save_dir / BEST_FILE) as tmp:
                    shutil.copyfile(path, tmp)
                _logger.info("new best %.4f at epoch %d: %s", metric, epoch, self.save_dir / BEST_FILE)
            pruned = self._prune()
            self._write_index()
        except OSError as err:
            raise CheckpointError(
                f"{self.save_dir}: cannot write checkpoint {name} ({err.strerror or err}); training stopped, "
                f"last good checkpoint: {last_good or 'none yet'}"
            ) from None
        # Only after the index stops listing them, so a crash here leaves stray files, never a dangling index.
        for file in pruned:
            (self.save_dir / file).unlink(missing_ok=True)
        self.latest = path
        return path

    def save_step(
        self,
        obj: Union[nn.Cell, list],
        epoch: int,
        step_in_epoch: int,
        steps_per_epoch: int,
        config: str = "",
        state: Optional[Dict[str, object]] = None,
    ) -> Path:
        """Write the state after `step_in_epoch` steps of the epoch after `epoch` finished ones (plus `state`)."""
        state = {
            "epoch_num": epoch, "step_num": epoch * steps_per_epoch + step_in_epoch, "step_in_epoch": step_in_epoch,
            "steps_per_epoch": steps_per_epoch, "metric": -1.0, "config": config, **(state or {}),
        }
        path = self.save_dir / f"{self.prefix}{STEP_FILE_SUFFIX}"
        try:
            save_checkpoint(obj, path, append_dict=state)
        except OSError as err:
            raise CheckpointError(
                f"{self.save_dir}: cannot write checkpoint {path.name} ({err.strerror or err}); training stopped, "
                f"last good checkpoint: {self.latest or 'none yet'}"
            ) from None
        self.latest = path
        return path

    def _prune(self) -> List[str]:
        """Drop records beyond the keep policy; return their file names."""
        if self.policy == "top_k":
            ranked = sorted(self.records, key=lambda r: -1e9 if r["metric"] is None else r["metric"], reverse=True)
            keep = ranked[: self.keep_max]
        else:
            keep = self.records[-self.keep_max:]
        keep_files = {r["file"] for r in keep} | {self.records[-1]["file"]}
        pruned = [r["file"] for r in self.records if r["file"] not in keep_files]
        self.records = [r for r in self.records if r["file"] in keep_files]
        return pruned


def read_index(save_dir: Union[str, os.PathLike]) -> List[Dict]:
    """The records of `save_dir`/checkpoints.json whose file exists, oldest save first."""
    index = Path(save_dir) / INDEX_FILE
    if not index.is_file():
        return []
    try:
        records = json.loads(index.read_text())
    except ValueError as err:
        raise CheckpointError(f"{index}: not a valid checkpoint index ({err})") from None
    return [r for r in records if (Path(save_dir) / r["file"]).is_file()]


def step_checkpoints(save_dir: Union[str, os.PathLike]) -> List[Path]:
    """The `*-latest_step.ckpt` files of a folder."""
    return sorted(Path(save_dir).glob(f"*{STEP_FILE_SUFFIX}"))


def training_progress(path: Union[str, os.PathLike]) -> Tuple[int, int]:
    """(finished epochs, steps done in the next epoch) of a training checkpoint."""
    entries = load_checkpoint(path, names=("epoch_num", "step_in_epoch"))
    if "epoch_num" not in entries:
        raise CheckpointError(f"{path}: holds no training state (epoch); it can initialise weights but not resume a run")
    return tuple(int(entries[key].asnumpy()) if key in entries else 0 for key in ("epoch_num", "step_in_epoch"))


def newest_checkpoint(save_dir: Union[str, os.PathLike]) -> Optional[Path]:
    """The most advanced resumable state in a folder: its newest listed checkpoint or a later step checkpoint."""
    save_dir = Path(save_dir)
    records = read_index(save_dir)
    candidates = [((records[-1]["epoch"], 0), save_dir / records[-1]["file"])] if records else []
    candidates += [(training_progress(path), path) for path in step_checkpoints(save_dir)]
    # On a tie (the step checkpoint of an epoch's last step) the listed epoch checkpoint wins.
    return max(candidates, key=lambda candidate: candidate[0])[1] if candidates else None


def resume_checkpoint(path: Union[str, os.PathLike]) -> Path:
    """The checkpoint to resume from: `path` itself, or for a folder its newest resumable state."""
    path = Path(path)
    if not path.is_dir():
        return path
    newest = newest_checkpoint(path)
    if newest is None:
        raise CheckpointError(f"{path}: no checkpoint to resume from ({INDEX_FILE} lists none that exists, and no *{STEP_FILE_SUFFIX})")
    return newest


def read_train_state(path: Union[str, os.PathLike]) -> Dict[str, object]:
    """Parameters and saved values of a training checkpoint, with its epoch checked."""
    entries = load_checkpoint(path)
    if "epoch_num" not in entries:
        raise CheckpointError(f"{path}: holds no training state (epoch); it can initialise weights but not resume a run")
    return entries
