"""Which rows each data-parallel rank reads.

Training uses MindSpore's own sharding (`num_shards`/`shard_id`): shards are
disjoint and equal in size, the last ones padded by repeating samples, so all
ranks run the same number of steps (collective ops need that).

Evaluation must see every sample exactly once, so with `exact_shards=True`
rank r reads rows r, r + num_shards, r + 2 * num_shards, ... through a
SubsetSampler: shards are disjoint, together complete, and differ in size by
at most one row. The caller sums correct counts over ranks.

Repeated augmentation (`num_aug_repeats` > 1) has its own sampler.

The trainer does not use MindSpore's samplers: `epoch_plan` computes the rows a
rank reads in one epoch from (seed, epoch) alone, with one augmentation seed per
row, and `rows=` reads exactly those. So a run resumed in the middle of an epoch
reads the rest of that epoch's rows, augmented as they would have been, without
touching the rows before.
"""
import math
from dataclasses import dataclass
from typing import Iterator, Optional, Sequence

import mindspore.dataset as ds
import numpy as np

from ..errors import ConfigError, DataError


def check_shards(num_shards: Optional[int], shard_id: Optional[int]) -> None:
    if num_shards is None and shard_id is None:
        return
    if num_shards is None or shard_id is None:
        raise ConfigError(f"num_shards={num_shards}, shard_id={shard_id}: give both or neither")
    if num_shards < 1 or not 0 <= shard_id < num_shards:
        raise ConfigError(f"num_shards={num_shards}, shard_id={shard_id}: need 0 <= shard_id < num_shards")


@dataclass(frozen=True)
class EpochPlan:
    """What one rank reads in one training epoch: dataset rows in order, and an augmentation seed per row."""

    rows: np.ndarray
    seeds: np.ndarray


def epoch_plan(
    num_rows: int,
    seed: int,
    epoch: int,
    shuffle: bool = True,
    num_shards: int = 1,
    shard_id: int = 0,
    num_samples: Optional[int] = None,
    num_aug_repeats: int = 0,
) -> EpochPlan:
    """The rows rank `shard_id` of `num_shards` reads in epoch `epoch`, from (seed, epoch) alone.

    A permutation of the rows (identity without `shuffle`), each row repeated
    `num_aug_repeats` times in a row when > 1, padded by wrapping around to a
    multiple of `num_shards` and dealt to the ranks in turn: shards are disjoint
    apart from the padding and equal in size (ceil(num_rows / num_shards) rows, at
    most `num_samples`). Every dealt slot also gets a random 32-bit seed for the
    augmentation of its image, so the same image differs between epochs and copies.
    """
    check_shards(num_shards, shard_id)
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(num_rows) if shuffle else np.arange(num_rows)
    if num_aug_repeats > 1:
        order = np.repeat(order, num_aug_repeats)
    per_shard = math.ceil(num_rows / num_shards)
    slots = np.resize(order, max(len(order), per_shard * num_shards))
    seeds = rng.integers(0, 2**32, size=len(slots), dtype=np.uint32)
    take = slice(shard_id, None, num_shards)
    count = per_shard if num_samples is None else min(per_shard, num_samples)
    return EpochPlan(slots[take][:count], seeds[take][:count])


class RepeatAugSampler(ds.Sampler):
    """Repeated augmentation (Hoffer et al. 2020; DeiT): each epoch draws a permutation,
    repeats every index `num_repeats` times in a row and deals the result to the ranks
    in turn, so the copies of one image land on different ranks (and get different
    augmentations). Each rank still reads ceil(num_rows / num_shards) samples per epoch.
    The permutation of epoch e comes from (dataset seed, e), the same on all ranks (see `epoch_plan`).
    """

    def __init__(self, num_rows: int, num_repeats: int, num_shards: int = 1, shard_id: int = 0, shuffle: bool = True):
        self.num_rows = num_rows
        self.num_repeats = num_repeats
        self.num_shards = num_shards
        self.shard_id = shard_id
        self.shuffle = shuffle
        self.per_shard = math.ceil(num_rows / num_shards)
        self.seed = ds.config.get_seed()
        self.epoch = 0
        super().__init__()  # reads len(self)

    def __iter__(self) -> Iterator[int]:
        plan = epoch_plan(self.num_rows, self.seed, self.epoch, self.shuffle, self.num_shards, self.shard_id,
                          num_aug_repeats=self.num_repeats)
        self.epoch += 1
        return iter(plan.rows.tolist())

    def __len__(self) -> int:
        return self.per_shard


def sampling_kwargs(
    num_rows: int,
    shuffle: bool,
    num_samples: Optional[int],
    num_shards: Optional[int],
    shard_id: Optional[int],
    exact_shards: bool,
    num_aug_repeats: int = 0,
    rows: Optional[Sequence[int]] = None,
) -> dict:
    """Keyword arguments choosing rows for a MindSpore source dataset of `num_rows` rows.

    `rows` reads exactly those rows in that order (an `epoch_plan`), instead of choosing them here.
    """
    if rows is not None:
        if num_samples is not None or num_shards is not None or exact_shards or num_aug_repeats > 1:
            raise ConfigError("rows cannot be combined with num_samples, num_shards, exact_shards or num_aug_repeats")
        return dict(sampler=ds.SubsetSampler([int(row) for row in rows]))
    check_shards(num_shards, shard_id)
    if num_samples is not None and num_samples < 1:
        raise ConfigError(f"num_samples={num_samples}: must be positive (or None for all)")
    if num_aug_repeats > 1:
        if num_samples is not None or exact_shards:
            raise ConfigError(f"num_aug_repeats={num_aug_repeats} cannot be combined with num_samples or exact_shards")
        return dict(sampler=RepeatAugSampler(num_rows, num_aug_repeats, num_shards or 1, shard_id or 0, shuffle))
    if not exact_shards or num_shards is None:
        return dict(shuffle=shuffle, num_samples=num_samples, num_shards=num_shards, shard_id=shard_id)
    if num_rows < num_shards:
        raise DataError(f"{num_rows} samples cannot fill {num_shards} shards")
    indices = list(range(shard_id, num_rows, num_shards))
    sampler = ds.SubsetRandomSampler(indices, num_samples) if shuffle else ds.SubsetSampler(indices, num_samples)
    return dict(sampler=sampler)
