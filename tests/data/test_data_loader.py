import mindspore.dataset as ds
import numpy as np
import pytest
from datahelpers import write_images

from mindcv.data import create_dataset, create_loader, create_transforms
from mindcv.data.sharding import epoch_plan
from mindcv.errors import ConfigError

COUNTS = {"a": 5, "b": 5, "c": 4}


@pytest.fixture
def folder(tmp_path):
    write_images(tmp_path / "train", COUNTS, size=(36, 44))
    return tmp_path


def _train_loader(root, **kwargs):
    transform = create_transforms("imagenet", image_resize=32, is_training=True, color_jitter=0.4, re_prob=0.25)
    dataset = create_dataset("imagenet", root, "train", num_parallel_workers=2)
    return create_loader(dataset, 4, drop_remainder=True, is_training=True, transform=transform, num_parallel_workers=2, **kwargs)


def _batches(loader, count=2):
    iterator = loader.create_dict_iterator(output_numpy=True, num_epochs=1)
    return [next(iterator) for _ in range(count)]


def test_batches_have_the_expected_shapes_and_types(folder, seeded):
    loader = _train_loader(folder)
    assert loader.get_dataset_size() == 3  # 14 images, batch 4, remainder dropped
    assert loader.get_col_names() == ["image", "label"]
    for batch in _batches(loader, 3):
        assert batch["image"].shape == (4, 3, 32, 32) and batch["image"].dtype == np.float32
        assert batch["label"].shape == (4,) and batch["label"].dtype == np.int32
        assert set(batch["label"]) <= {0, 1, 2}


def test_eval_loader_keeps_the_last_partial_batch(folder):
    transform = create_transforms("imagenet", image_resize=32)
    loader = create_loader(create_dataset("imagenet", folder, "train", shuffle=False), 4, transform=transform)
    sizes = [len(batch["label"]) for batch in loader.create_dict_iterator(output_numpy=True, num_epochs=1)]
    assert sizes == [4, 4, 4, 2]


def test_same_seed_same_batches_other_seed_other_batches(folder):
    runs = {}
    for seed in (5, 5, 6):
        ds.config.set_seed(seed)
        runs.setdefault(seed, []).append(_batches(_train_loader(folder, mixup=0.2, cutmix=1.0, num_classes=3)))
    first, again = runs[5]
    for one, two in zip(first, again):
        np.testing.assert_array_equal(one["image"], two["image"])
        np.testing.assert_array_equal(one["label"], two["label"])
    assert not np.array_equal(first[0]["image"], runs[6][0][0]["image"])


def test_mixup_and_cutmix_give_soft_targets(folder, seeded):
    loader = _train_loader(folder, mixup=0.8, cutmix=1.0, num_classes=3, label_smoothing=0.1)
    for batch in _batches(loader, 3):
        assert batch["label"].shape == (4, 3) and batch["label"].dtype == np.float32
        np.testing.assert_allclose(batch["label"].sum(axis=1), 1.0, atol=1e-6)
        assert batch["label"].min() >= 0.1 / 3 - 1e-6


def test_mixing_is_for_training_only(folder):
    transform = create_transforms("imagenet", image_resize=32)
    loader = create_loader(create_dataset("imagenet", folder, "train"), 4, transform=transform, mixup=0.8, num_classes=3)
    assert _batches(loader, 1)[0]["label"].dtype == np.int32


def test_default_transform_is_imagenet_eval_at_224(folder):
    batch = _batches(create_loader(create_dataset("imagenet", folder, "train"), 2), 1)[0]
    assert batch["image"].shape == (2, 3, 224, 224)


def test_bad_batch_size(folder):
    with pytest.raises(ConfigError, match="batch_size=0"):
        create_loader(create_dataset("imagenet", folder, "train"), 0)


def _seeded_batches(root, plan, first: int = 0, workers: int = 1) -> list:
    transform = create_transforms("imagenet", image_resize=32, is_training=True, color_jitter=0.4, re_prob=0.25)
    rows, seeds = plan.rows[first:], plan.seeds[first:]
    dataset = create_dataset("imagenet", root, "train", rows=rows)
    loader = create_loader(dataset, 4, drop_remainder=True, is_training=True, transform=transform, mixup=0.2,
                           num_classes=3, num_parallel_workers=workers, sample_seeds=seeds)
    return list(loader.create_tuple_iterator(output_numpy=True, num_epochs=1))


def test_seeded_batches_do_not_depend_on_the_rows_before_them_or_the_workers(folder):
    """What mid-epoch resume needs: batch k is the same when the pipeline starts at batch k, and with 2 workers."""
    plan = epoch_plan(14, seed=3, epoch=1)
    full = _seeded_batches(folder, plan)
    assert len(full) == 3
    for whole, resumed in zip(full[1:], _seeded_batches(folder, plan, first=4)):
        np.testing.assert_array_equal(whole[0], resumed[0])
        np.testing.assert_array_equal(whole[1], resumed[1])
    for one, two in zip(full, _seeded_batches(folder, plan, workers=2)):
        np.testing.assert_array_equal(one[0], two[0])
    other = _seeded_batches(folder, epoch_plan(14, seed=3, epoch=2))
    assert not np.array_equal(full[0][0], other[0][0])
