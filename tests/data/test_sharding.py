from collections import Counter

import numpy as np
import pytest
from datahelpers import read_raw, write_images

from mindcv.data import create_dataset
from mindcv.data.sharding import RepeatAugSampler, epoch_plan


def _shards(root, num_shards, **kwargs):
    return [
        [data for data, _ in read_raw(create_dataset("imagenet", root, "train", num_shards=num_shards, shard_id=rank, **kwargs))]
        for rank in range(num_shards)
    ]


@pytest.mark.parametrize("shuffle", [False, True])
def test_train_shards_are_disjoint_and_complete(tmp_path, seeded, shuffle):
    written = write_images(tmp_path / "train", {"a": 9, "b": 7, "c": 8})  # 24 = 3 x 8
    shards = _shards(tmp_path, 3, shuffle=shuffle)
    assert [len(shard) for shard in shards] == [8, 8, 8]
    assert sorted(data for shard in shards for data in shard) == sorted(written)


def test_train_shards_are_equal_sized_and_cover_everything_when_uneven(tmp_path, seeded):
    written = write_images(tmp_path / "train", {"a": 13, "b": 12})  # 25 over 4 shards: padded to 4 x 7
    shards = _shards(tmp_path, 4, shuffle=True)
    assert [len(shard) for shard in shards] == [7, 7, 7, 7]
    assert set(data for shard in shards for data in shard) == set(written)


@pytest.mark.parametrize("shuffle", [False, True])
def test_exact_shards_count_every_sample_once(tmp_path, seeded, shuffle):
    written = write_images(tmp_path / "train", {"a": 13, "b": 12})
    shards = _shards(tmp_path, 4, shuffle=shuffle, exact_shards=True)
    assert sorted(len(shard) for shard in shards) == [6, 6, 6, 7]
    every = [data for shard in shards for data in shard]
    assert len(every) == 25 and sorted(every) == sorted(written)


def test_exact_shards_keep_labels(tmp_path):
    written = write_images(tmp_path / "train", {"a": 3, "b": 4})
    for rank in range(3):
        dataset = create_dataset("imagenet", tmp_path, "train", shuffle=False, num_shards=3, shard_id=rank, exact_shards=True)
        for data, label in read_raw(dataset):
            assert label == "ab".index(written[data][0])


def test_repeated_augmentation_spreads_copies_over_ranks(seeded):
    samplers = [RepeatAugSampler(10, num_repeats=3, num_shards=3, shard_id=rank) for rank in range(3)]
    epochs = [[list(sampler) for sampler in samplers] for _ in range(2)]
    for shards in epochs:
        assert [len(shard) for shard in shards] == [4, 4, 4]
        first = shards[0][0]
        assert [shard[0] for shard in shards] == [first] * 3  # one image, three ranks
        assert max(Counter(i for shard in shards for i in shard).values()) <= 3
    assert epochs[0] != epochs[1]  # a new permutation every epoch


def test_repeated_augmentation_through_create_dataset(tmp_path, seeded):
    write_images(tmp_path / "train", {"a": 6})
    dataset = create_dataset("imagenet", tmp_path, "train", num_aug_repeats=3)
    rows = [data for data, _ in read_raw(dataset)]
    assert len(rows) == 6 and max(Counter(rows).values()) == 3


def test_epoch_plans_are_disjoint_equal_shards_of_a_permutation_seeded_by_seed_and_epoch():
    plans = [epoch_plan(25, seed=7, epoch=2, num_shards=4, shard_id=rank) for rank in range(4)]
    assert [len(plan.rows) for plan in plans] == [7, 7, 7, 7]
    dealt = np.concatenate([plan.rows for plan in plans])
    assert set(dealt) == set(range(25)) and len(dealt) == 28  # 3 rows repeated to pad the last shards
    again = epoch_plan(25, seed=7, epoch=2, num_shards=4, shard_id=1)
    np.testing.assert_array_equal(again.rows, plans[1].rows)
    np.testing.assert_array_equal(again.seeds, plans[1].seeds)
    assert not np.array_equal(epoch_plan(25, seed=7, epoch=3, num_shards=4, shard_id=1).rows, plans[1].rows)
    seeds = np.concatenate([plan.seeds for plan in plans])
    assert seeds.dtype == np.uint32 and len(set(seeds)) == len(seeds)  # the padding copies get seeds of their own
    np.testing.assert_array_equal(epoch_plan(10, 1, 0, shuffle=False).rows, np.arange(10))
    assert len(epoch_plan(25, seed=7, epoch=2, num_samples=5).rows) == 5


def test_rows_reads_exactly_those_rows_in_that_order(tmp_path):
    write_images(tmp_path / "train", {"a": 3, "b": 4})
    everything = read_raw(create_dataset("imagenet", tmp_path, "train", shuffle=False))
    chosen = read_raw(create_dataset("imagenet", tmp_path, "train", rows=[5, 0, 6, 5]))
    assert chosen == [everything[5], everything[0], everything[6], everything[5]]
