"""Folders in ImageNet layout (`root/<split>/<class>/<image>`) read by MindSpore's ImageFolderDataset.

The folder is scanned here first, with the same rules ImageFolderDataset applies
(class folders and file names in byte order, extensions matched case-sensitively,
no recursion), so that a bad layout fails early with a message naming the path,
the class indices are explicit, and the sample count is known for exact sharding.
"""
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional, Sequence, Union

import mindspore.dataset as ds

from ..errors import DataError
from .sharding import sampling_kwargs

PathLike = Union[str, Path]
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".JPG", ".JPEG", ".PNG", ".BMP")


@dataclass(frozen=True)
class FolderSplit:
    """One validated split folder: its class indices and image count."""

    path: Path
    class_indexing: Dict[str, int]
    num_images: int

    @property
    def num_classes(self) -> int:
        return max(self.class_indexing.values()) + 1


def is_image_file(name: str) -> bool:
    return name.endswith(IMAGE_EXTENSIONS)


def find_classes(split_dir: PathLike) -> List[str]:
    """Sub-folder names of `split_dir`, sorted: class index = position in this list."""
    split_dir = Path(split_dir)
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: folder not found")
    return sorted(entry.name for entry in os.scandir(split_dir) if entry.is_dir())


def list_images(class_dir: PathLike) -> List[str]:
    """Image file names directly inside `class_dir`, in the order ImageFolderDataset reads them."""
    return sorted(entry.name for entry in os.scandir(class_dir) if is_image_file(entry.name) and entry.is_file())


def load_class_map(path: PathLike) -> Dict[str, int]:
    """Read a class map file: one class folder name per non-empty line, index = line order.

    Only the first word of a line counts, so `n01440764 tench` lines work too.
    """
    path = Path(path)
    try:
        lines = path.read_text().splitlines()
    except OSError as err:
        raise DataError(f"{path}: cannot read class map ({err.strerror})") from err
    names = [line.split()[0] for line in lines if line.strip()]
    if not names:
        raise DataError(f"{path}: class map is empty")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise DataError(f"{path}: class map lists {', '.join(duplicates)} more than once")
    return {name: index for index, name in enumerate(names)}


def _check_class_indexing(class_indexing: Mapping[str, int]) -> Dict[str, int]:
    for name, index in class_indexing.items():
        if not isinstance(index, int) or isinstance(index, bool) or index < 0:
            raise DataError(f"class_indexing['{name}'] = {index!r}: class indices must be integers >= 0")
    return dict(class_indexing)


def scan_split(
    root: PathLike,
    split: str = "",
    class_indexing: Optional[Mapping[str, int]] = None,
    class_map: Optional[PathLike] = None,
) -> FolderSplit:
    """Validate `root/split` and resolve its class indices.

    Without `class_indexing` or `class_map`, classes are the sorted sub-folder names.
    With either, every sub-folder must be listed, but the mapping may list more
    classes than the folder holds (a subset of ImageNet keeps its 1000-class indices).
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: dataset folder not found")
    split_dir = root / split if split else root
    if not split_dir.is_dir():
        found = ", ".join(find_classes(root)) or "nothing"
        raise DataError(f"{split_dir}: split folder '{split}' not found in {root} (found: {found})")
    classes = find_classes(split_dir)
    if not classes:
        raise DataError(f"{split_dir}: no class folders (expected {split_dir}/<class>/<image>)")
    if class_indexing is not None and class_map is not None:
        raise DataError("pass class_indexing or class_map, not both")
    if class_map is not None:
        mapping = load_class_map(class_map)
    elif class_indexing is not None:
        mapping = _check_class_indexing(class_indexing)
    else:
        mapping = {name: index for index, name in enumerate(classes)}
    unlisted = [name for name in classes if name not in mapping]
    if unlisted:
        source = class_map or "class_indexing"
        raise DataError(f"{split_dir}: class folders {', '.join(unlisted[:5])} are not in {source}")
    num_images = 0
    for name in classes:
        count = len(list_images(split_dir / name))
        if count == 0:
            raise DataError(f"{split_dir / name}: class folder holds no images ({', '.join(IMAGE_EXTENSIONS[:4])})")
        num_images += count
    return FolderSplit(split_dir.resolve(), {name: mapping[name] for name in classes}, num_images)


def split_files(split: FolderSplit) -> List[Path]:
    """The image files of a split in the order ImageFolderDataset numbers its rows (class folder names, then file names)."""
    return [split.path / name / file for name in sorted(split.class_indexing) for file in list_images(split.path / name)]


def folder_dataset(
    split: FolderSplit,
    shuffle: bool = True,
    num_samples: Optional[int] = None,
    num_shards: Optional[int] = None,
    shard_id: Optional[int] = None,
    num_parallel_workers: Optional[int] = None,
    exact_shards: bool = False,
    num_aug_repeats: int = 0,
    rows: Optional[Sequence[int]] = None,
) -> ds.ImageFolderDataset:
    """ImageFolderDataset over a scanned split: columns `image` (encoded bytes) and `label` (int32)."""
    chosen = sampling_kwargs(split.num_images, shuffle, num_samples, num_shards, shard_id, exact_shards, num_aug_repeats, rows)
    return ds.ImageFolderDataset(
        str(split.path),
        extensions=list(IMAGE_EXTENSIONS),
        class_indexing=split.class_indexing,
        decode=False,
        num_parallel_workers=num_parallel_workers,
        **chosen,
    )
