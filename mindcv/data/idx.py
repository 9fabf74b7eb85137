"""MNIST-format (IDX) files and balanced subsets of them, as ImageNet-layout folders of PNG images.

Fashion-MNIST and MNIST ship as IDX files: a big-endian int32 header (a magic number, then the
sizes), then uint8 data. `tools/make_embedded_dataset.py` builds the embedded data set from
them and `benchmark.py --suite tta` its larger split.
"""
import gzip
import io
from pathlib import Path
from typing import Dict, Sequence, Tuple

import numpy as np
from PIL import Image

from ..errors import DataError

IMAGES_FILE = "train-images-idx3-ubyte.gz"
LABELS_FILE = "train-labels-idx1-ubyte.gz"
_MAGIC = {4: 2051, 2: 2049}  # header ints -> magic: images (count, rows, cols), labels (count)


def read_idx(path: Path, header_ints: int) -> np.ndarray:
    """The uint8 array of an IDX file (gzip or plain), shaped by its header."""
    opener = gzip.open if str(path).endswith(".gz") else open
    try:
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError) as err:
        raise DataError(f"{path}: cannot read IDX file ({err})") from None
    header = np.frombuffer(raw, ">i4", count=header_ints) if len(raw) >= 4 * header_ints else np.zeros(1, ">i4")
    if header[0] != _MAGIC[header_ints]:
        raise DataError(f"{path}: not an IDX file of {'images' if header_ints == 4 else 'labels'} "
                        f"(magic number {header[0]}, expected {_MAGIC[header_ints]})")
    return np.frombuffer(raw, np.uint8, offset=4 * header_ints).reshape(header[1:])


def read_images_and_labels(folder: Path) -> Tuple[np.ndarray, np.ndarray]:
    """(images N x 28 x 28, labels N) of the IDX training files in `folder`."""
    images = read_idx(Path(folder) / IMAGES_FILE, 4)
    labels = read_idx(Path(folder) / LABELS_FILE, 2)
    if len(images) != len(labels):
        raise DataError(f"{folder}: {len(images)} images but {len(labels)} labels")
    return images, labels


def balanced_split(labels: np.ndarray, per_class: Dict[str, int], seed: int) -> Dict[str, np.ndarray]:
    """Disjoint splits with `per_class[split]` images of every class: a seeded random choice per class,
    each split's indices sorted by label, then by index."""
    rng = np.random.default_rng(seed)
    chosen = {split: [] for split in per_class}
    needed = sum(per_class.values())
    for label in np.unique(labels):
        picks = rng.permutation(np.flatnonzero(labels == label))[:needed]
        if len(picks) < needed:
            raise DataError(f"class {label} has only {len(picks)} images, {needed} needed")
        start = 0
        for split, count in per_class.items():
            chosen[split].append(np.sort(picks[start:start + count]))
            start += count
    return {split: np.concatenate(parts) for split, parts in chosen.items()}


def png_bytes(pixels: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def write_image_folder(target: Path, images: np.ndarray, labels: np.ndarray, sources: np.ndarray,
                       folders: Sequence[str]) -> None:
    """target/<folders[label]>/<source index>.png for every image (named after its index in the source file,
    so each can be traced to it)."""
    for folder in folders:
        (target / folder).mkdir(parents=True, exist_ok=True)
    for pixels, label, source in zip(images, labels, sources):
        (target / folders[label] / f"{source:05d}.png").write_bytes(png_bytes(pixels))
