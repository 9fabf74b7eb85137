"""The epoch loop: train, validate, checkpoint, report; resumable at any epoch boundary."""
import hashlib
import logging
import math
import shutil
import time
from pathlib import Path
from typing import Dict

import mindspore as ms
import numpy as np
import yaml

from ..checkpoint.manager import CheckpointManager, read_train_state, resume_checkpoint
from ..config import RunConfig
from ..errors import CheckpointError, MindCVError
from . import builders
from .distributed import init_distributed
from .evaluate import evaluate
from .reporting import SummaryWriter, plot_training_curves, progress_bar, setup_logging
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


class _EmaSwap:
    """Evaluate with the EMA weights, then put the trained weights back."""

    def __init__(self, step: TrainStep) -> None:
        self.pairs = list(zip(step.weights, step.ema_weights)) if step.use_ema else []
        self.saved = []

    def __enter__(self) -> None:
        self.saved = [w.data.copy() for w, _ in self.pairs]
        for weight, ema in self.pairs:
            weight.set_data(ema.data.copy())

    def __exit__(self, *exc) -> None:
        for (weight, _), value in zip(self.pairs, self.saved):
            weight.set_data(value)


def _average_batchnorm_statistics(network: ms.nn.Cell, world: int) -> None:
    """Give every rank the mean of the ranks' BN moving statistics (each saw only its shard)."""
    all_reduce = ms.ops.AllReduce()
    for param in network.get_parameters():
        if param.name.endswith(("moving_mean", "moving_variance")):
            param.set_data(all_reduce(param.value()) / world)


def parameters_checksum(network: ms.nn.Cell) -> str:
    """sha256 over every parameter, to compare the state of ranks or runs."""
    digest = hashlib.sha256()
    for param in network.get_parameters():
        digest.update(param.name.encode())
        digest.update(param.asnumpy().tobytes())
    return digest.hexdigest()


def _resume(step: TrainStep, path: Path) -> int:
    """Load the whole training state into `step`; return the number of finished epochs."""
    entries = read_train_state(path)
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
    _logger.info("resumed from %s after epoch %d (optimizer step %d)", path, epoch, int(step.optimizer.global_step.asnumpy()))
    return epoch


def train(cfg: RunConfig) -> Dict[str, float]:
    """Run the training described by `cfg` (mindcv.config.parse_config); return the final metrics."""
    system, model, train_cfg = cfg.system, cfg.model, cfg.train
    builders.setup_context(system)
    rank, world = init_distributed(system.distribute)
    save_dir = Path(cfg.checkpoint.ckpt_save_dir)
    if rank == 0:
        check_save_dir(save_dir)
    resume_from = resume_checkpoint(model.ckpt_path) if model.ckpt_path and model.resume_opt else None
    setup_logging(save_dir, rank)
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
    start_epoch = _resume(step, resume_from) if resume_from else 0
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

    last_metrics: Dict[str, float] = {}
    for epoch in range(start_epoch, train_cfg.epoch_size):
        network.set_train(True)
        builders.seed_everything(system.seed + epoch)
        start = time.perf_counter()
        losses = []
        bar = progress_bar(steps_per_epoch, f"epoch {epoch + 1}/{train_cfg.epoch_size}", enabled=rank == 0)
        for index, (images, labels) in enumerate(train_data.epoch_batches(epoch)):
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
            losses.append(loss_value)
            bar.update(1)
            if (index + 1) % system.log_interval == 0:
                bar.set_postfix(loss=f"{np.mean(losses[-system.log_interval:]):.4f}")
                _logger.info("epoch %d step %d/%d loss %.4f scale %g", epoch + 1, index + 1, steps_per_epoch, loss_value, float(scale.asnumpy()))
        bar.close()
        if world > 1:
            _average_batchnorm_statistics(network, world)
        epoch_time = time.perf_counter() - start
        finished = epoch + 1
        row = {
            "epoch": finished,
            "lr": lrs[min(int(step.optimizer.global_step.asnumpy()), len(lrs)) - 1],
            "train_loss": float(np.mean([v for v in losses if math.isfinite(v)] or [float("nan")])),
            "epoch_time_s": epoch_time,
            "images_per_second": len(losses) * cfg.data.batch_size * world / epoch_time,
            "skipped_steps": int(step.skipped_steps.asnumpy()),
        }
        validate_now = val_data is not None and (finished % system.val_interval == 0 or finished == train_cfg.epoch_size)
        if validate_now:
            with _EmaSwap(step):
                metrics = evaluate(network, val_data.batches(), model.num_classes)
            row.update(val_top1=metrics["top1"], val_top5=metrics["top5"], val_loss=metrics["loss"])
            last_metrics = metrics
        _logger.info(
            "epoch %d done in %.1f s: loss %.4f%s", finished, epoch_time, row["train_loss"],
            f", val top-1 {row['val_top1']:.4f} top-5 {row['val_top5']:.4f}" if validate_now else "",
        )
        if rank == 0:
            if finished % keep.ckpt_save_interval == 0 or finished == train_cfg.epoch_size:
                path = manager.save(step, finished, steps_per_epoch, row.get("val_top1"), config_text)
                _logger.info("saved %s", path)
            summary.write(row)
            plot_training_curves(summary.path, save_dir / "training_curves.png")

    _logger.info("final parameter checksum (rank %d of %d): %s", rank, world, parameters_checksum(step))
    best = manager.best if rank == 0 else None
    result = {"top1": last_metrics.get("top1"), "top5": last_metrics.get("top5")}
    if best:
        result.update(best_top1=best["metric"], best_epoch=best["epoch"], best_checkpoint=str(save_dir / "best.ckpt"))
        _logger.info("best val top-1 %.4f at epoch %d (%s)", best["metric"], best["epoch"], save_dir / "best.ckpt")
    return result
