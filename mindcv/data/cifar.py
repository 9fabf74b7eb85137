"""CIFAR-10, binary version, read by MindSpore's Cifar10Dataset."""
from pathlib import Path
from typing import Optional, Sequence

import mindspore.dataset as ds

from ..errors import ConfigError, DataError
from .sharding import sampling_kwargs

RECORD_BYTES = 1 + 32 * 32 * 3  # label byte, then R, G and B planes
RECORDS_PER_FILE = 10000  # Cifar10Dataset reads whole files of this many records
CIFAR10_FILES = {
    "train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)),
    "test": ("test_batch.bin",),
}
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
_EXTRACTED_FOLDER = "cifar-10-batches-bin"  # what the published archive unpacks to


def cifar10_usage(split: str) -> str:
    """MindSpore's usage for a split name; `val` is CIFAR-10's test set."""
    usage = "test" if split == "val" else split
    if usage not in CIFAR10_FILES:
        raise ConfigError(f"cifar10 has no split '{split}': use train or test (or val, the test set)")
    return usage


def cifar10_dataset(
    root: Path,
    split: str = "train",
    shuffle: bool = True,
    num_samples: Optional[int] = None,
    num_shards: Optional[int] = None,
    shard_id: Optional[int] = None,
    num_parallel_workers: Optional[int] = None,
    exact_shards: bool = False,
    num_aug_repeats: int = 0,
    rows: Optional[Sequence[int]] = None,
) -> ds.Cifar10Dataset:
    """Columns `image` (32x32x3 uint8, decoded) and `label` (uint32)."""
    usage = cifar10_usage(split)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found")
    if (root / _EXTRACTED_FOLDER).is_dir():
        root = root / _EXTRACTED_FOLDER
    for name in CIFAR10_FILES[usage]:
        path = root / name
        if not path.is_file():
            raise DataError(f"{path}: CIFAR-10 file not found")
        size = path.stat().st_size
        if size != RECORDS_PER_FILE * RECORD_BYTES:
            raise DataError(
                f"{path}: {size} bytes, expected {RECORDS_PER_FILE * RECORD_BYTES} "
                f"({RECORDS_PER_FILE} records of {RECORD_BYTES} bytes); truncated or not the binary version"
            )
    num_rows = RECORDS_PER_FILE * len(CIFAR10_FILES[usage])
    return ds.Cifar10Dataset(
        str(root),
        usage=usage,
        num_parallel_workers=num_parallel_workers,
        **sampling_kwargs(num_rows, shuffle, num_samples, num_shards, shard_id, exact_shards, num_aug_repeats, rows),
    )
