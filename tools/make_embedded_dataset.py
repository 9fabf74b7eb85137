"""Make mindcv/data/assets/fashion_mnist_subset.npz from the Fashion-MNIST IDX files.

Deterministic: the same source files, seed and counts give the same bytes
(zip entries carry a fixed timestamp). Per class, the images are a seeded
random choice among the class's training images, split into disjoint train
and val parts; each split is stored sorted by label, then by source index.

    python tools/make_embedded_dataset.py --source /work/shared/data/fashion-mnist
"""
import argparse
import gzip
import zipfile
from pathlib import Path

import numpy as np

from mindcv.data.embedded import ASSET_PATH, FASHION_MNIST_CLASSES

IMAGES_FILE = "train-images-idx3-ubyte.gz"
LABELS_FILE = "train-labels-idx1-ubyte.gz"
IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049


def read_idx(path: Path, magic: int, header_ints: int) -> np.ndarray:
    """IDX file: big-endian int32 header (magic, then sizes), then uint8 data."""
    raw = gzip.open(path).read()
    header = np.frombuffer(raw, ">i4", count=header_ints)
    if header[0] != magic:
        raise SystemExit(f"{path}: magic number {header[0]}, expected {magic}")
    return np.frombuffer(raw, np.uint8, offset=4 * header_ints).reshape(header[1:])


def choose_subset(labels: np.ndarray, train_per_class: int, val_per_class: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    chosen = {"train": [], "val": []}
    for label in range(len(FASHION_MNIST_CLASSES)):
        picks = rng.permutation(np.flatnonzero(labels == label))[: train_per_class + val_per_class]
        if len(picks) < train_per_class + val_per_class:
            raise SystemExit(f"class {label} has only {len(picks)} images")
        chosen["train"].append(np.sort(picks[:train_per_class]))
        chosen["val"].append(np.sort(picks[train_per_class:]))
    return {split: np.concatenate(parts) for split, parts in chosen.items()}


def write_npz(path: Path, arrays: dict) -> None:
    """np.savez_compressed, but with fixed zip timestamps so the bytes are reproducible."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for key, array in arrays.items():
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as entry:
                np.lib.format.write_array(entry, np.ascontiguousarray(array), allow_pickle=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, required=True, help="folder holding the Fashion-MNIST IDX gzip files")
    parser.add_argument("--out", type=Path, default=ASSET_PATH)
    parser.add_argument("--train-per-class", type=int, default=500)
    parser.add_argument("--val-per-class", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    images = read_idx(args.source / IMAGES_FILE, IMAGES_MAGIC, 4)
    labels = read_idx(args.source / LABELS_FILE, LABELS_MAGIC, 2)
    if len(images) != len(labels):
        raise SystemExit(f"{len(images)} images but {len(labels)} labels")
    arrays = {}
    for split, index in choose_subset(labels, args.train_per_class, args.val_per_class, args.seed).items():
        arrays[f"{split}_images"] = images[index]
        arrays[f"{split}_labels"] = labels[index]
        arrays[f"{split}_source_index"] = index.astype(np.int32)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.out, arrays)
    counts = ", ".join(f"{key} {arrays[key].shape}" for key in arrays if key.endswith("_images"))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {counts}")


if __name__ == "__main__":
    main()
