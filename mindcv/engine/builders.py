"""Turn the resolved settings (mindcv.config.RunConfig sections) into the objects a run needs."""
import logging
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

import mindspore as ms
import mindspore.dataset as ds
import numpy as np
from mindspore import nn

from ..config import AugmentationConfig, DataConfig, EvalConfig, ModelConfig, OptimizerConfig, RunConfig, SystemConfig
from ..data import create_dataset, create_loader, create_transforms, dataset_files, unreadable_image_error
from ..data.sharding import EpochPlan, epoch_plan
from ..errors import DataError
from ..loss import create_loss
from ..models import create_model, seed_dropout
from ..optim import create_optimizer
from ..scheduler import create_scheduler

_logger = logging.getLogger(__name__)


def setup_context(system: SystemConfig) -> None:
    if system.device_target != "auto":
        ms.set_device(system.device_target)
    ms.set_context(mode=system.mode, jit_config={"jit_level": system.jit_level})


def seed_everything(seed: int) -> None:
    """Seed weights init and anything else random (MindSpore, its data engine, numpy, random, dropout).

    Training does not rely on these streams after the start: data order and augmentation
    follow each epoch's plan (`TrainData`), dropout masks each step's `step_seed`.
    """
    ms.set_seed(seed)
    ds.config.set_seed(seed)
    np.random.seed(seed)
    random.seed(seed)
    seed_dropout(seed)


def step_seed(seed: int, epoch: int, step: int) -> int:
    """The dropout key of one training step: a function of (seed, epoch, step) alone, so a resumed run repeats it."""
    return int(np.random.SeedSequence([seed, epoch, step]).generate_state(1)[0])


def build_model(
    model: ModelConfig, amp_level: str = "O0", load_weights: bool = True, ema: bool = False, strict_head: bool = False
) -> nn.Cell:
    """The network, with weights from `pretrained`/`ckpt_path` unless `load_weights` is false.

    `ema` loads the checkpoint's EMA copy; `strict_head` refuses a head of another size (evaluation).
    """
    network = create_model(
        model.model,
        pretrained=model.pretrained and load_weights,
        checkpoint_path=model.ckpt_path if load_weights else "",
        ema=ema,
        strict_head=strict_head,
        **model.network_kwargs(),
    )
    if amp_level != "O0":
        network = ms.amp.auto_mixed_precision(network, amp_level)
    return network


def build_lr_schedule(cfg: RunConfig, steps_per_epoch: int) -> List[float]:
    """One learning rate per optimizer update (micro-batches of accumulation count once)."""
    updates_per_epoch = max(1, steps_per_epoch // cfg.train.gradient_accumulation_steps)
    return create_scheduler(updates_per_epoch, num_epochs=cfg.train.epoch_size, **cfg.scheduler.kwargs())


def build_optimizer(optimizer: OptimizerConfig, network: nn.Cell, lrs: List[float]) -> nn.Optimizer:
    # The train step unscales gradients itself, so the optimizer sees loss_scale 1.
    return create_optimizer(network, lr=lrs, **optimizer.kwargs())


def build_loss(cfg: RunConfig) -> nn.Cell:
    return create_loss(**cfg.loss.kwargs())


def _train_transforms(data: DataConfig, augmentation: AugmentationConfig) -> list:
    return create_transforms(data.dataset, is_training=True, **augmentation.transform_kwargs())


def eval_transforms(dataset: str, settings: EvalConfig) -> list:
    return create_transforms(dataset, is_training=False, **settings.kwargs())


@dataclass
class TrainData:
    """The training split of one process; a fresh pipeline per epoch.

    The rows of epoch e and the augmentation seed of each come from (seed, e) alone
    (`mindcv.data.sharding.epoch_plan`), so epoch e sees the same data order and
    augmentation whether or not the run was resumed before it or inside it.
    """

    cfg: RunConfig
    rank: int
    world: int
    num_rows: int
    num_samples: int
    steps_per_epoch: int

    def plan(self, epoch: int) -> EpochPlan:
        data = self.cfg.data
        return epoch_plan(self.num_rows, self.cfg.system.seed, epoch, data.shuffle, self.world, self.rank, data.num_samples,
                          data.aug_repeats)

    def epoch_batches(self, epoch: int, start_step: int = 0) -> Iterator:
        """The batches of `epoch` from step `start_step` on; the rows of earlier steps are never read."""
        plan = self.plan(epoch)
        first = start_step * self.cfg.data.batch_size
        if first >= len(plan.rows):
            return iter(())
        rows = plan.rows[first:]
        loader = _train_loader(self.cfg, rows, plan.seeds[first:])
        return _naming_bad_images(loader.create_tuple_iterator(num_epochs=1), lambda sample: self._file_of_row(rows[sample]))

    def _file_of_row(self, row: int) -> Path:
        data = self.cfg.data
        files = dataset_files(data.dataset, data.data_dir, data.train_split, data.class_map)
        return files[row] if files is not None else Path(f"{data.data_dir} (record {row})")


def _naming_bad_images(batches: Iterator, file_of_sample: Optional[Callable[[int], Path]] = None) -> Iterator:
    """Re-raise a pipeline failure caused by an undecodable image as a DataError naming the file."""
    try:
        yield from batches
    except RuntimeError as err:
        named = unreadable_image_error(err, file_of_sample)
        if named is None:
            raise
        raise named from None


def _dataset(cfg: RunConfig, split: str, rank: int, world: int, **kwargs) -> ds.Dataset:
    data = cfg.data
    return create_dataset(
        data.dataset,
        root=data.data_dir,
        split=split,
        num_parallel_workers=cfg.system.num_parallel_workers,
        download=data.dataset_download,
        class_map=data.class_map or None,
        num_shards=world if world > 1 else None,
        shard_id=rank if world > 1 else None,
        **kwargs,
    )


def _train_dataset(cfg: RunConfig, rows: Optional[Sequence[int]] = None) -> ds.Dataset:
    """The training split: all of it in file order, or exactly `rows` (the epoch plan shards and shuffles)."""
    return _dataset(cfg, cfg.data.train_split, 0, 1, shuffle=False, rows=rows)


def _train_loader(cfg: RunConfig, rows: Sequence[int], seeds: Sequence[int]) -> ds.Dataset:
    return create_loader(
        _train_dataset(cfg, rows),
        batch_size=cfg.data.batch_size,
        drop_remainder=cfg.data.drop_remainder,
        is_training=True,
        num_classes=cfg.model.num_classes,
        label_smoothing=cfg.loss.label_smoothing,
        transform=_train_transforms(cfg.data, cfg.augmentation),
        num_parallel_workers=cfg.system.num_parallel_workers,
        sample_seeds=seeds,
        **cfg.augmentation.mixing_kwargs(),
    )


def build_train_data(cfg: RunConfig, rank: int = 0, world: int = 1) -> TrainData:
    data = cfg.data
    num_rows = _train_dataset(cfg).get_dataset_size()
    first_plan = epoch_plan(num_rows, cfg.system.seed, 0, False, world, rank, data.num_samples, data.aug_repeats)
    num_samples = len(first_plan.rows)
    steps = num_samples // data.batch_size if data.drop_remainder else -(-num_samples // data.batch_size)
    if steps == 0:
        raise DataError(
            f"batch_size {data.batch_size} is larger than the {num_samples} training images of this process "
            f"({data.data_dir}/{data.train_split}); lower batch_size or set drop_remainder false"
        )
    if world > 1:
        _logger.info("rank %d reads training shard %d of %d: %d images per epoch", rank, rank, world, num_samples)
    return TrainData(cfg, rank, world, num_rows, num_samples, steps)


@dataclass
class EvalData:
    """The validation split of one process: disjoint shards that together hold every image once."""

    loader: ds.Dataset
    num_samples: int
    batch_size: int

    def batches(self) -> Iterator:
        return _naming_bad_images(self.loader.create_tuple_iterator(num_epochs=1))


def build_eval_data(cfg: RunConfig, rank: int = 0, world: int = 1) -> EvalData:
    """Every validation image once per process group, in batches of val_batch_size.

    The last batch keeps its remainder: nothing is dropped and the batch size is never changed.
    """
    dataset = _dataset(cfg, cfg.data.val_split, rank, world, shuffle=False, num_samples=cfg.data.num_samples, exact_shards=True)
    loader = create_loader(
        dataset,
        batch_size=cfg.data.val_batch_size,
        drop_remainder=False,
        is_training=False,
        num_classes=cfg.model.num_classes,
        transform=eval_transforms(cfg.data.dataset, cfg.eval),
        num_parallel_workers=cfg.system.num_parallel_workers,
    )
    return EvalData(loader, dataset.get_dataset_size(), cfg.data.val_batch_size)
