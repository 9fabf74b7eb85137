import numpy as np
import pytest

from mindcv.data import create_dataset, create_loader, create_transforms
from mindcv.data.cifar import RECORD_BYTES, RECORDS_PER_FILE
from mindcv.errors import ConfigError, DataError


def _records(first: int) -> np.ndarray:
    """10000 records; record k (global index first + k) has label k % 10, red plane k % 256,
    green plane k // 256 % 256 and blue plane = its file's number."""
    index = np.arange(first, first + RECORDS_PER_FILE)
    records = np.empty((RECORDS_PER_FILE, RECORD_BYTES), np.uint8)
    records[:, 0] = index % 10
    records[:, 1:1025] = (index % 256)[:, None]
    records[:, 1025:2049] = (index // 256 % 256)[:, None]
    records[:, 2049:] = first // RECORDS_PER_FILE
    return records


@pytest.fixture(scope="module")
def cifar_root(tmp_path_factory):
    """The real file format and sizes (Cifar10Dataset reads 10000 records per file)."""
    root = tmp_path_factory.mktemp("cifar")
    for number in range(1, 6):
        _records((number - 1) * RECORDS_PER_FILE).tofile(root / f"data_batch_{number}.bin")
    _records(5 * RECORDS_PER_FILE).tofile(root / "test_batch.bin")
    return root


def _index(image: np.ndarray) -> int:
    return int(image[0, 0, 0]) + 256 * int(image[0, 0, 1])


def test_reads_the_binary_records(cifar_root):
    dataset = create_dataset("cifar10", cifar_root, "test", shuffle=False, num_samples=12)
    rows = list(dataset.create_dict_iterator(output_numpy=True, num_epochs=1))
    assert [_index(row["image"]) for row in rows] == list(range(50000, 50012))
    assert [int(row["label"]) for row in rows] == [i % 10 for i in range(12)]
    image = rows[3]["image"]
    assert image.shape == (32, 32, 3) and image.dtype == np.uint8
    assert (image[..., 0] == 50003 % 256).all() and (image[..., 1] == 50003 // 256).all() and (image[..., 2] == 5).all()


def test_train_split_and_val_alias(cifar_root):
    assert create_dataset("cifar10", cifar_root, "train").get_dataset_size() == 50000
    assert create_dataset("cifar10", cifar_root, "val").get_dataset_size() == 10000
    # one row from each file, in file order: data_batch_1 ... data_batch_5
    strided = create_dataset("cifar10", cifar_root, "train", False, num_shards=10000, shard_id=3, exact_shards=True)
    assert [_index(row["image"]) for row in strided.create_dict_iterator(output_numpy=True)] == [3, 10003, 20003, 30003, 40003]
    with pytest.raises(ConfigError, match="no split 'valid'"):
        create_dataset("cifar10", cifar_root, "valid")


def test_exact_shards_of_the_test_set(cifar_root):
    seen = []
    for rank in range(3):
        shard = create_dataset("cifar10", cifar_root, "test", shuffle=False, num_shards=3, shard_id=rank, exact_shards=True)
        seen += [_index(row["image"]) for row in shard.create_dict_iterator(output_numpy=True, num_epochs=1)]
    assert len(seen) == 10000 and sorted(seen) == list(range(50000, 60000))


def test_loader_with_cifar_transforms(cifar_root, seeded):
    dataset = create_dataset("cifar10", cifar_root, "train", num_samples=16)
    transform = create_transforms("cifar10", image_resize=32, is_training=True)
    loader = create_loader(dataset, 8, True, True, transform=transform, cutmix=1.0, num_classes=10)
    batch = next(loader.create_dict_iterator(output_numpy=True))
    assert batch["image"].shape == (8, 3, 32, 32) and batch["label"].shape == (8, 10)


def test_missing_or_truncated_files_are_named(cifar_root, tmp_path):
    with pytest.raises(DataError, match=f"{tmp_path / 'test_batch.bin'}: CIFAR-10 file not found"):
        create_dataset("cifar10", tmp_path, "test")
    (tmp_path / "test_batch.bin").write_bytes(b"\0" * RECORD_BYTES * 5)
    with pytest.raises(DataError, match="test_batch.bin: 15365 bytes, expected 30730000"):
        create_dataset("cifar10", tmp_path, "test")
    nested = tmp_path / "extracted"
    (nested / "cifar-10-batches-bin").mkdir(parents=True)
    (nested / "cifar-10-batches-bin" / "test_batch.bin").symlink_to(cifar_root / "test_batch.bin")
    assert create_dataset("cifar10", nested, "test").get_dataset_size() == 10000
