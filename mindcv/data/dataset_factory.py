"""create_dataset: a MindSpore source dataset by name (MindCV's arguments)."""
import logging
from pathlib import Path
from typing import List, Mapping, Optional, Sequence, Union

import mindspore.dataset as ds

from ..cache import cache_dir
from ..errors import ConfigError, DataError
from .cifar import cifar10_dataset
from .embedded import prepare_fashion_mnist
from .folder import folder_dataset, scan_split, split_files

_logger = logging.getLogger(__name__)

# dataset name -> kind of source; '' and 'folder' are any folder in ImageNet layout
DATASET_KINDS = {
    "imagenet": "folder",
    "folder": "folder",
    "": "folder",
    "cifar10": "cifar10",
    "fashion_mnist": "embedded",
    "embedded": "embedded",
}

_DOWNLOAD_HELP = {
    "folder": (
        "ImageNet cannot be downloaded automatically: get ILSVRC2012 from https://image-net.org "
        "(registration required) and lay it out as {root}/train/<class>/*.JPEG and {root}/val/<class>/*.JPEG"
    ),
    "cifar10": (
        "CIFAR-10 cannot be downloaded here: get the binary version (cifar-10-binary.tar.gz) from "
        "https://www.cs.toronto.edu/~kriz/cifar.html and extract it so that {root} holds "
        "data_batch_1.bin ... data_batch_5.bin and test_batch.bin"
    ),
}


def dataset_kind(name: str) -> str:
    """'folder', 'cifar10' or 'embedded' for a dataset name (case-insensitive)."""
    kind = DATASET_KINDS.get((name or "").lower())
    if kind is None:
        known = ", ".join(repr(key) for key in DATASET_KINDS)
        raise ConfigError(f"dataset '{name}' is not supported; use one of {known}")
    return kind


def _root(name: str, root: Optional[Union[str, Path]]) -> Path:
    return Path(root) if root else cache_dir() / "datasets" / (name.lower() or "folder")


def dataset_files(
    name: str, root: Optional[Union[str, Path]] = None, split: str = "train", class_map: Optional[Union[str, Path]] = None
) -> Optional[List[Path]]:
    """The file of each row of `create_dataset(name, root, split, class_map=...)`; None for CIFAR-10 (no files)."""
    kind = dataset_kind(name)
    if kind == "cifar10":
        return None
    folder = prepare_fashion_mnist() if kind == "embedded" else _root(name, root)
    return split_files(scan_split(folder, split, class_map=class_map or None))


def create_dataset(
    name: str = "",
    root: Optional[Union[str, Path]] = None,
    split: str = "train",
    shuffle: bool = True,
    num_samples: Optional[int] = None,
    num_shards: Optional[int] = None,
    shard_id: Optional[int] = None,
    num_parallel_workers: Optional[int] = None,
    download: bool = False,
    class_indexing: Optional[Mapping[str, int]] = None,
    class_map: Optional[Union[str, Path]] = None,
    exact_shards: bool = False,
    num_aug_repeats: int = 0,
    rows: Optional[Sequence[int]] = None,
) -> ds.Dataset:
    """Create a dataset with columns `image` and `label`, as MindCV's create_dataset does.

    Args:
        name: 'imagenet' (or '' / 'folder': any folder in ImageNet layout
            `root/<split>/<class>/<image>`), 'cifar10' (binary batches in `root`), or
            'fashion_mnist' / 'embedded' (the subset shipped in the package; `root` is ignored).
        root: dataset folder; default `$MINDCV_HOME/datasets/<name>`.
        split: split folder name ('train', 'val', ...); for cifar10 'train' or 'test' ('val' = 'test').
        shuffle: shuffle every epoch (seeded by `mindspore.dataset.config.set_seed`).
        num_samples: read at most this many samples (per shard when sharded).
        num_shards, shard_id: data-parallel sharding; see `exact_shards`.
        num_parallel_workers: reader threads.
        download: nothing can be downloaded: if the files are missing, the error says where to put them.
        class_indexing: folder name -> class index, to keep indices of a larger label set.
        class_map: file with one class folder name per line (line order = index); same purpose.
        exact_shards: for evaluation. False: MindSpore's sharding, equal shard sizes padded
            with repeated samples (what training needs). True: shards are disjoint and together
            hold every sample exactly once (sizes differ by at most one), so summed correct
            counts over ranks give the exact accuracy over the whole set.
        num_aug_repeats: repeated augmentation for training when > 1 (MindCV's aug_repeats,
            3 is usual): each image is read that many times per epoch, spread over ranks.
        rows: read exactly these rows, in this order (a training `epoch_plan`); then leave
            num_samples, num_shards, exact_shards and num_aug_repeats unset.

    Images of folder datasets are encoded bytes (decoded by the transforms); CIFAR-10
    images are decoded 32x32x3 uint8 arrays.
    """
    kind = dataset_kind(name)
    if kind != "folder" and (class_indexing or class_map):
        raise ConfigError(f"dataset '{name}' has fixed classes; class_indexing and class_map apply to folders only")
    reading = dict(
        shuffle=shuffle,
        num_samples=num_samples,
        num_shards=num_shards,
        shard_id=shard_id,
        num_parallel_workers=num_parallel_workers,
        exact_shards=exact_shards,
        num_aug_repeats=num_aug_repeats,
        rows=rows,
    )
    if kind == "embedded":
        if root:
            _logger.info("dataset '%s' is shipped in the package; root=%s is not used", name, root)
        return folder_dataset(scan_split(prepare_fashion_mnist(), split), **reading)
    given_root = bool(root)
    root = _root(name, root)
    try:
        if kind == "cifar10":
            return cifar10_dataset(root, split, **reading)
        return folder_dataset(scan_split(root, split, class_indexing, class_map or None), **reading)
    except DataError as err:
        if download:
            raise DataError(f"{err}. {_DOWNLOAD_HELP[kind].format(root=root)}") from err
        if not given_root:
            raise DataError(f"{err}; data_dir (root) is not set: set it to the data set folder") from err
        raise
