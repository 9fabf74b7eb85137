"""Turn resolved settings (mindcv.config) into the objects a run needs."""
import argparse
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, List, Optional, Sequence

import mindspore as ms
import mindspore.dataset as ds
import numpy as np
from mindspore import nn

from ..data import create_dataset, create_loader, create_transforms, dataset_files, unreadable_image_error
from ..data.sharding import EpochPlan, epoch_plan
from ..errors import DataError
from ..loss import create_loss
from ..models import create_model, seed_dropout
from ..optim import create_optimizer
from ..scheduler import create_scheduler


def setup_context(args: argparse.Namespace) -> None:
    if args.device_target != "auto":
        ms.set_device(args.device_target)
    ms.set_context(mode=args.mode, jit_config={"jit_level": args.jit_level})


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
    args: argparse.Namespace, load_weights: bool = True, amp_level: str = "", ema: bool = False, strict_head: bool = False
) -> nn.Cell:
    """The network, with weights from `pretrained`/`ckpt_path` unless `load_weights` is false.

    `ema` loads the checkpoint's EMA copy; `strict_head` refuses a head of another size (evaluation).
    """
    kwargs = {} if args.drop_rate is None else {"drop_rate": args.drop_rate}
    network = create_model(
        args.model,
        num_classes=args.num_classes,
        in_channels=args.in_channels,
        pretrained=args.pretrained and load_weights,
        checkpoint_path=args.ckpt_path if load_weights else "",
        ema=ema,
        strict_head=strict_head,
        **kwargs,
    )
    amp_level = amp_level or args.amp_level
    if amp_level != "O0":
        network = ms.amp.auto_mixed_precision(network, amp_level)
    return network


def build_loss(args: argparse.Namespace) -> nn.Cell:
    return create_loss(args.loss, reduction=args.reduction, label_smoothing=args.label_smoothing, aux_factor=args.aux_factor)


def build_lr_schedule(args: argparse.Namespace, steps_per_epoch: int) -> List[float]:
    """One learning rate per optimizer update (micro-batches of accumulation count once)."""
    return create_scheduler(
        max(1, steps_per_epoch // args.gradient_accumulation_steps),
        scheduler=args.scheduler,
        lr=args.lr,
        min_lr=args.min_lr,
        warmup_epochs=args.warmup_epochs,
        warmup_factor=args.warmup_factor,
        decay_epochs=args.decay_epochs,
        decay_rate=args.decay_rate,
        milestones=args.multi_step_decay_milestones,
        num_epochs=args.epoch_size,
        lr_epoch_stair=args.lr_epoch_stair,
        num_cycles=args.num_cycles,
        cycle_decay=args.cycle_decay,
    )


def build_optimizer(args: argparse.Namespace, network: nn.Cell, lrs: List[float]) -> nn.Optimizer:
    # The train step unscales gradients itself, so the optimizer sees loss_scale 1.
    return create_optimizer(
        network,
        opt=args.opt,
        lr=lrs,
        weight_decay=args.weight_decay,
        momentum=args.momentum,
        nesterov=args.use_nesterov,
        weight_decay_filter=args.weight_decay_filter,
        eps=args.eps,
    )


def _transforms(args: argparse.Namespace, is_training: bool) -> list:
    return create_transforms(
        args.dataset,
        image_resize=args.image_resize,
        is_training=is_training,
        auto_augment=args.auto_augment,
        scale=tuple(args.scale),
        ratio=tuple(args.ratio),
        hflip=args.hflip,
        vflip=args.vflip,
        color_jitter=args.color_jitter,
        interpolation=args.interpolation,
        re_prob=args.re_prob,
        re_scale=tuple(args.re_scale),
        re_ratio=tuple(args.re_ratio),
        re_value=args.re_value,
        re_max_attempts=args.re_max_attempts,
        mean=args.mean,
        std=args.std,
        crop_pct=args.crop_pct,
    )


@dataclass
class TrainData:
    """The training split of one process; a fresh pipeline per epoch.

    The rows of epoch e and the augmentation seed of each come from (seed, e) alone
    (`mindcv.data.sharding.epoch_plan`), so epoch e sees the same data order and
    augmentation whether or not the run was resumed before it or inside it.
    """

    args: argparse.Namespace
    rank: int
    world: int
    num_rows: int
    num_samples: int
    steps_per_epoch: int

    def plan(self, epoch: int) -> EpochPlan:
        args = self.args
        return epoch_plan(self.num_rows, args.seed, epoch, args.shuffle, self.world, self.rank, args.num_samples, args.aug_repeats)

    def epoch_batches(self, epoch: int, start_step: int = 0) -> Iterator:
        """The batches of `epoch` from step `start_step` on; the rows of earlier steps are never read."""
        plan = self.plan(epoch)
        first = start_step * self.args.batch_size
        if first >= len(plan.rows):
            return iter(())
        rows = plan.rows[first:]
        loader = _train_loader(self.args, rows, plan.seeds[first:])
        return _naming_bad_images(loader.create_tuple_iterator(num_epochs=1), lambda sample: self._file_of_row(rows[sample]))

    def _file_of_row(self, row: int) -> Path:
        args = self.args
        files = dataset_files(args.dataset, args.data_dir, args.train_split, args.class_map)
        return files[row] if files is not None else Path(f"{args.data_dir} (record {row})")


def _naming_bad_images(batches: Iterator, file_of_sample: Optional[Callable[[int], Path]] = None) -> Iterator:
    """Re-raise a pipeline failure caused by an undecodable image as a DataError naming the file."""
    try:
        yield from batches
    except RuntimeError as err:
        named = unreadable_image_error(err, file_of_sample)
        if named is None:
            raise
        raise named from None


def _train_dataset(args: argparse.Namespace, rows: Optional[Sequence[int]] = None):
    """The training split: all of it in file order, or exactly `rows`."""
    return create_dataset(
        args.dataset,
        root=args.data_dir,
        split=args.train_split,
        shuffle=False,
        num_parallel_workers=args.num_parallel_workers,
        download=args.dataset_download,
        class_map=args.class_map or None,
        rows=rows,
    )


def _train_loader(args: argparse.Namespace, rows: Sequence[int], seeds: Sequence[int]):
    return create_loader(
        _train_dataset(args, rows),
        batch_size=args.batch_size,
        drop_remainder=args.drop_remainder,
        is_training=True,
        mixup=args.mixup,
        cutmix=args.cutmix,
        cutmix_prob=args.cutmix_prob,
        num_classes=args.num_classes,
        label_smoothing=args.label_smoothing,
        transform=_transforms(args, is_training=True),
        num_parallel_workers=args.num_parallel_workers,
        sample_seeds=seeds,
    )


def build_train_data(args: argparse.Namespace, rank: int = 0, world: int = 1) -> TrainData:
    num_rows = _train_dataset(args).get_dataset_size()
    num_samples = len(epoch_plan(num_rows, args.seed, 0, False, world, rank, args.num_samples, args.aug_repeats).rows)
    steps = num_samples // args.batch_size if args.drop_remainder else -(-num_samples // args.batch_size)
    if steps == 0:
        raise DataError(
            f"batch_size {args.batch_size} is larger than the {num_samples} training images of this process "
            f"({args.data_dir}/{args.train_split}); lower batch_size or set drop_remainder false"
        )
    return TrainData(args, rank, world, num_rows, num_samples, steps)


@dataclass
class EvalData:
    """The validation split of one process: disjoint shards that together hold every image once."""

    loader: ds.Dataset
    num_samples: int
    batch_size: int

    def batches(self) -> Iterator:
        return _naming_bad_images(self.loader.create_tuple_iterator(num_epochs=1))


def build_eval_data(args: argparse.Namespace, rank: int = 0, world: int = 1) -> EvalData:
    """Every validation image once per process group, in batches of val_batch_size (or batch_size).

    The last batch keeps its remainder: nothing is dropped and the batch size is never changed.
    """
    dataset = create_dataset(
        args.dataset,
        root=args.data_dir,
        split=args.val_split,
        shuffle=False,
        num_samples=args.num_samples,
        num_shards=world if world > 1 else None,
        shard_id=rank if world > 1 else None,
        num_parallel_workers=args.num_parallel_workers,
        download=args.dataset_download,
        class_map=args.class_map or None,
        exact_shards=True,
    )
    batch_size = args.val_batch_size or args.batch_size
    num_samples = dataset.get_dataset_size()
    loader = create_loader(
        dataset,
        batch_size=batch_size,
        drop_remainder=False,
        is_training=False,
        num_classes=args.num_classes,
        transform=_transforms(args, is_training=False),
        num_parallel_workers=args.num_parallel_workers,
    )
    return EvalData(loader, num_samples, batch_size)
