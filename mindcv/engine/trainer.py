"""The epoch loop: train, validate, checkpoint, report; resumable at any step, stoppable by SIGTERM / SIGINT."""
import hashlib
import logging
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, Optional, Sequence, Tuple, Union

import mindspore as ms
import numpy as np
import yaml

from ..checkpoint.manager import CheckpointManager, read_train_state, resume_checkpoint
from ..config import RunConfig
from ..errors import CheckpointError, MindCVError
from ..models import seed_dropout
from . import builders
from .distributed import init_distributed
from .evaluate import evaluate
from .peers import watch_peers
from .preemption import StopRequest, TrainingStopped, follow_launcher, resume_command
from .reporting import SummaryWriter, plot_training_curves, progress_bar, setup_logging
from .threads import pin_run_threads
from .train_step import NetWithLoss, TrainStep

_logger = logging.getLogger(__name__)

# Free space a run needs before it starts: a few checkpoints of the largest MobileNetV2 with optimizer state.
MIN_FREE_BYTES = 200 * 2**20


class TrainingDiverged(MindCVError):
    """The loss became NaN or infinite and no loss scaler could skip the step."""


def check_save_dir(path: Path) -> None:
    """Fail at start, not after hours, when checkpoints could not be written."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / ".write_test"
        probe.write_bytes(b"0" * 4096)
        probe.unlink()
    except OSError as err:
        raise MindCVError(f"ckpt_save_dir {path}: cannot write there ({err.strerror or err})") from None
    free = shutil.disk_usage(path).free
    if free < MIN_FREE_BYTES:
        raise MindCVError(f"ckpt_save_dir {path}: only {free / 2**20:.0f} MiB free, need at least {MIN_FREE_BYTES / 2**20:.0f} MiB")


def _overwrite(param: ms.Parameter, value: ms.Tensor) -> None:
    """Write `value` into the parameter's own memory. (set_data gives it new memory, and in PyNative mode the
    optimizer kernels that already ran keep updating the old one: the updates after it would be lost.)"""
    ms.ops.assign(param, value)


class _EmaSwap:
    """Evaluate with the EMA weights, then put the trained weights back."""

    def __init__(self, step: TrainStep) -> None:
        self.pairs = list(zip(step.weights, step.ema_weights)) if step.use_ema else []
        self.saved = []

    def __enter__(self) -> None:
        self.saved = [weight.value().copy() for weight, _ in self.pairs]
        for weight, ema in self.pairs:
            _overwrite(weight, ema.value())

    def __exit__(self, *exc) -> None:
        for (weight, _), value in zip(self.pairs, self.saved):
            _overwrite(weight, value)


def _mean_batchnorm_statistics(network: ms.nn.Cell, world: int) -> Dict[str, ms.Tensor]:
    """The mean over ranks of every BN moving statistic (each rank saw only its shard); a collective."""
    all_reduce = ms.ops.AllReduce()
    return {
        param.name: all_reduce(param.value()) / world
        for param in network.get_parameters()
        if param.name.endswith(("moving_mean", "moving_variance"))
    }


def _average_batchnorm_statistics(network: ms.nn.Cell, world: int) -> None:
    """Give every rank the mean of the ranks' BN moving statistics."""
    params = network.parameters_dict()
    for name, mean in _mean_batchnorm_statistics(network, world).items():
        _overwrite(params[name], mean)


def _step_checkpoint_contents(step: TrainStep, world: int) -> Union[TrainStep, list]:
    """What a step checkpoint holds: the whole state, with the ranks' mean BN statistics; a collective.

    The moving statistics are updated by an affine map with the same factor on every
    rank, so resuming all ranks from the mean gives, at the epoch end, the mean an
    uninterrupted run averages then (up to rounding).
    """
    if world == 1:
        return step
    means = _mean_batchnorm_statistics(step.network, world)
    return [{"name": p.name, "data": means.get(p.name, p.value())} for p in step.get_parameters()]


@dataclass
class EpochProgress:
    """Running totals of the epoch in progress; saved in step checkpoints so that a resumed epoch reports all its steps."""

    steps: int = 0
    loss_sum: float = 0.0  # over the finite losses
    finite_steps: int = 0
    seconds: float = 0.0

    def add(self, loss: float) -> None:
        self.steps += 1
        if math.isfinite(loss):
            self.loss_sum += loss
            self.finite_steps += 1

    @property
    def mean_loss(self) -> float:
        return self.loss_sum / self.finite_steps if self.finite_steps else float("nan")

    def state(self) -> Dict[str, ms.Tensor]:
        """Checkpoint entries (float64, so the summary's mean comes out as in an uninterrupted run)."""
        values = {"epoch_loss_sum": self.loss_sum, "epoch_finite_steps": self.finite_steps, "epoch_seconds": self.seconds}
        return {key: ms.Tensor(np.float64(value)) for key, value in values.items()}

    @classmethod
    def from_checkpoint(cls, entries: Dict[str, object], steps: int) -> "EpochProgress":
        value = lambda key: float(entries[key].asnumpy()) if key in entries else 0.0  # noqa: E731
        return cls(steps, value("epoch_loss_sum"), int(value("epoch_finite_steps")), value("epoch_seconds"))


def parameters_checksum(network: ms.nn.Cell) -> str:
    """sha256 over every parameter, to compare the state of ranks or runs."""
    digest = hashlib.sha256()
    for param in network.get_parameters():
        digest.update(param.name.encode())
        digest.update(param.asnumpy().tobytes())
    return digest.hexdigest()


def _resume(step: TrainStep, path: Path, steps_per_epoch: int) -> Tuple[int, int, EpochProgress]:
    """Load the whole training state into `step`: (finished epochs, steps done in the next, its progress)."""
    entries = read_train_state(path)
    done = int(entries["step_in_epoch"].asnumpy()) if "step_in_epoch" in entries else 0
    saved_steps = int(entries["steps_per_epoch"].asnumpy()) if done else steps_per_epoch
    if saved_steps != steps_per_epoch:
        raise CheckpointError(
            f"{path}: saved after step {done} of an epoch of {saved_steps} steps, but this run has {steps_per_epoch} steps "
            "per epoch (batch_size, data or number of processes changed): resume from an epoch checkpoint instead"
        )
    # The LR table is rebuilt from the config (a resumed run may extend epoch_size); global_step indexes it.
    entries.pop("learning_rate", None)
    shapes = {p.name: tuple(p.shape) for p in step.get_parameters()}
    mismatched = [name for name, shape in shapes.items() if name in entries and tuple(entries[name].shape) != shape]
    if mismatched:
        saved = yaml.safe_load(entries.get("config") or "{}")
        name = mismatched[0]
        raise CheckpointError(
            f"{path}: cannot resume this run: the checkpoint is of model {saved.get('model', '?')} with num_classes "
            f"{saved.get('num_classes', '?')} ({name} has shape {tuple(entries[name].shape)} there, {shapes[name]} here); "
            "resuming needs the same model and num_classes (to fine-tune from it instead, set resume_opt false)"
        )
    missing = [p.name for p in step.get_parameters() if p.name not in entries and p.name != "learning_rate"]
    if missing:
        raise CheckpointError(f"{path}: cannot resume this run: the checkpoint lacks {len(missing)} values (e.g. {missing[0]}); "
                              "were model, optimizer, EMA or accumulation settings changed?")
    params = {k: v for k, v in entries.items() if isinstance(v, ms.Parameter)}
    ms.load_param_into_net(step, params)
    epoch = int(entries["epoch_num"].asnumpy())
    where = f"after epoch {epoch}" if not done else f"in epoch {epoch + 1} after step {done}/{steps_per_epoch}"
    _logger.info("resumed from %s %s (optimizer step %d)", path, where, int(step.optimizer.global_step.asnumpy()))
    return epoch, done, EpochProgress.from_checkpoint(entries, done)


def _stopped(stop: StopRequest, signal_number: int, checkpoint: Optional[Path], where: str, command: Sequence[str],
             save_dir: Path, rank: int) -> TrainingStopped:
    """Tell the user how to resume, wait for every rank (rank 0 has written by then), and give the exception to raise."""
    stopped = TrainingStopped(signal_number, checkpoint)
    if rank == 0:
        _logger.warning("stopped by %s %s; saved %s; resume with: %s", stopped.signal_name, where, checkpoint,
                        resume_command(command, save_dir))
    else:
        _logger.warning("stopped by %s %s", stopped.signal_name, where)
    stop.barrier()
    return stopped


def train(cfg: RunConfig, command: Optional[Sequence[str]] = None) -> Dict[str, float]:
    """Run the training described by `cfg` (mindcv.config.parse_config); return the final metrics.

    `command` is the command line that started the run (default: this process's), for the
    resume command logged when a SIGTERM or SIGINT stops the run (`TrainingStopped`).
    """
    command = list(command) if command is not None else [sys.executable, *sys.argv]
    system, model, train_cfg = cfg.system, cfg.model, cfg.train
    builders.setup_context(system)
    if system.distribute and os.environ.get("MS_ROLE") != "MS_SCHED":  # msrun's scheduler must outlive its workers
        follow_launcher()
    rank, world = init_distributed(system.distribute)
    save_dir = Path(cfg.checkpoint.ckpt_save_dir)
    if rank == 0:
        check_save_dir(save_dir)
    resume_from = resume_checkpoint(model.ckpt_path) if model.ckpt_path and model.resume_opt else None
    setup_logging(save_dir, rank)
    cfg = pin_run_threads(cfg, resume_from)
    if world > 1:
        watch_peers(rank, f"Resume: repeat the launch command on every host with --ckpt_path {save_dir} --resume_opt True")
    builders.seed_everything(system.seed)

    train_data = builders.build_train_data(cfg, rank, world)
    steps_per_epoch = train_data.steps_per_epoch
    val_data = builders.build_eval_data(cfg, rank, world) if system.val_while_train else None
    network = builders.build_model(model, train_cfg.amp_level, load_weights=not resume_from, strict_head=model.strict_head)
    loss_fn = builders.build_loss(cfg)
    lrs = builders.build_lr_schedule(cfg, steps_per_epoch)
    optimizer = builders.build_optimizer(cfg.optimizer, network, lrs)
    step = TrainStep(
        NetWithLoss(network, loss_fn),
        optimizer,
        loss_scale=train_cfg.loss_scale,
        dynamic_loss_scale=train_cfg.loss_scale_type == "dynamic",
        drop_overflow_update=train_cfg.drop_overflow_update,
        clip_norm=train_cfg.clip_value if train_cfg.clip_grad else 0.0,
        accumulation_steps=train_cfg.gradient_accumulation_steps,
        ema_decay=model.ema_decay if model.ema else 0.0,
    )
    start_epoch, start_step, resumed_progress = _resume(step, resume_from, steps_per_epoch) if resume_from else (0, 0, None)
    if start_epoch >= train_cfg.epoch_size:
        raise MindCVError(f"{resume_from} already finished epoch {start_epoch} of epoch_size {train_cfg.epoch_size}: nothing to train")

    # Only rank 0 writes checkpoints, so only it may set an earlier run's files aside.
    new_run = resume_from is None and rank == 0
    keep = cfg.checkpoint
    manager = CheckpointManager(save_dir, model.model, keep.keep_checkpoint_max, keep.ckpt_save_policy, start_new_run=new_run)
    summary = SummaryWriter(save_dir / "summary.csv") if rank == 0 else None
    config_text = cfg.to_yaml()
    if rank == 0:
        cfg.save(save_dir / "config.yaml")
        summary.drop_epochs_from(start_epoch + 1)
    _logger.info(
        "training %s for %d epochs: %d steps of %d x %d images per epoch, on %d process(es)",
        model.model, train_cfg.epoch_size, steps_per_epoch, cfg.data.batch_size, world, world,
    )
    # Step checkpoints fall on optimizer-step boundaries, counted in batches over the whole run.
    save_every = keep.ckpt_save_steps * train_cfg.gradient_accumulation_steps

    def save_step(epoch: int, done: int, progress: EpochProgress) -> Optional[Path]:
        contents = _step_checkpoint_contents(step, world)  # every rank: a collective
        if rank != 0:
            return None
        return manager.save_step(contents, epoch, done, steps_per_epoch, config_text, progress.state())

    last_metrics: Dict[str, float] = {}
    with StopRequest(world) as stop:
        for epoch in range(start_epoch, train_cfg.epoch_size):
            network.set_train(True)
            first = start_step if epoch == start_epoch else 0
            progress = resumed_progress if epoch == start_epoch and first else EpochProgress()
            start = time.perf_counter() - progress.seconds
            bar = progress_bar(steps_per_epoch, f"epoch {epoch + 1}/{train_cfg.epoch_size}", enabled=rank == 0, initial=first)
            for index, (images, labels) in enumerate(train_data.epoch_batches(epoch, first), start=first):
                seed_dropout(builders.step_seed(system.seed, epoch, index))
                loss, finite, scale = step(images, labels)
                loss_value = float(loss.asnumpy())
                if not finite.asnumpy():
                    # Skipping helps only while a lower loss scale can remove the overflow.
                    if not step.check_overflow or float(scale.asnumpy()) <= 1.0:
                        what = f"loss is {loss_value}" if not math.isfinite(loss_value) else "gradients are not finite"
                        raise TrainingDiverged(
                            f"{what} at epoch {epoch + 1}, step {index + 1} (loss scale {float(scale.asnumpy()):g}): "
                            f"training stopped; last good checkpoint: {manager.latest or 'none yet'}. "
                            "Lower lr, or use loss_scale_type dynamic with amp."
                        )
                    _logger.warning("epoch %d step %d: gradients overflowed at loss scale %g; update skipped (%d so far)",
                                    epoch + 1, index + 1, float(scale.asnumpy()), int(step.skipped_steps.asnumpy()))
                progress.add(loss_value)
                bar.update(1)
                if (index + 1) % system.log_interval == 0:
                    bar.set_postfix(loss=f"{progress.mean_loss:.4f}")
                    _logger.info("epoch %d step %d/%d loss %.4f scale %g", epoch + 1, index + 1, steps_per_epoch, loss_value, float(scale.asnumpy()))
                signal_number = stop.agreed()
                if signal_number or (save_every and (epoch * steps_per_epoch + index + 1) % save_every == 0):
                    progress.seconds = time.perf_counter() - start
                    path = save_step(epoch, index + 1, progress)
                    if signal_number:
                        raise _stopped(stop, signal_number, path, f"after epoch {epoch + 1} step {index + 1}/{steps_per_epoch}",
                                       command, save_dir, rank)
            bar.close()
            if world > 1:
                _average_batchnorm_statistics(network, world)
            epoch_time = time.perf_counter() - start
            finished = epoch + 1
            row = {
                "epoch": finished,
                "lr": lrs[min(int(step.optimizer.global_step.asnumpy()), len(lrs)) - 1],
                "train_loss": progress.mean_loss,
                "epoch_time_s": epoch_time,
                "images_per_second": progress.steps * cfg.data.batch_size * world / epoch_time,
                "skipped_steps": int(step.skipped_steps.asnumpy()),
            }
            validate_now = val_data is not None and (finished % system.val_interval == 0 or finished == train_cfg.epoch_size)
            if validate_now:
                with _EmaSwap(step):
                    metrics = evaluate(network, val_data.batches(), model.num_classes)
                row.update(val_top1=metrics["top1"], val_top5=metrics["top5"], val_loss=metrics["loss"],
                           val_images_per_second=metrics["images_per_second"])
                last_metrics = metrics
            _logger.info(
                "epoch %d done in %.1f s: loss %.4f%s", finished, epoch_time, row["train_loss"],
                f", val top-1 {row['val_top1']:.4f} top-5 {row['val_top5']:.4f}" if validate_now else "",
            )
            epoch_checkpoint = finished % keep.ckpt_save_interval == 0 or finished == train_cfg.epoch_size
            saved = None
            if rank == 0:
                if epoch_checkpoint:
                    saved = manager.save(step, finished, steps_per_epoch, row.get("val_top1"), config_text)
                    _logger.info("saved %s", saved)
                summary.write(row)
                plot_training_curves(summary.path, save_dir / "training_curves.png")
            signal_number = stop.agreed()
            if signal_number and finished < train_cfg.epoch_size:
                if not epoch_checkpoint:
                    saved = save_step(finished, 0, EpochProgress())
                raise _stopped(stop, signal_number, saved, f"after epoch {finished}", command, save_dir, rank)

    _logger.info("final parameter checksum (rank %d of %d): %s", rank, world, parameters_checksum(step))
    best = manager.best if rank == 0 else None
    result = {"top1": last_metrics.get("top1"), "top5": last_metrics.get("top5")}
    if best:
        result.update(best_top1=best["metric"], best_epoch=best["epoch"], best_checkpoint=str(save_dir / "best.ckpt"))
        _logger.info("best val top-1 %.4f at epoch %d (%s)", best["metric"], best["epoch"], save_dir / "best.ckpt")
    return result
