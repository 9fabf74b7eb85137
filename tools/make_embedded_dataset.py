"""Make mindcv/data/assets/fashion_mnist_subset.npz from the Fashion-MNIST IDX files.

Deterministic: the same source files, seed and counts give the same bytes
(zip entries carry a fixed timestamp). Per class, the images are a seeded
random choice among the class's training images, split into disjoint train
and val parts; each split is stored sorted by label, then by source index.

    python tools/make_embedded_dataset.py --source /work/shared/data/fashion-mnist
"""
import argparse
import zipfile
from pathlib import Path

import numpy as np

from mindcv.data.embedded import ASSET_PATH
from mindcv.data.idx import balanced_split, read_images_and_labels


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

    images, labels = read_images_and_labels(args.source)
    arrays = {}
    splits = balanced_split(labels, {"train": args.train_per_class, "val": args.val_per_class}, args.seed)
    for split, index in splits.items():
        arrays[f"{split}_images"] = images[index]
        arrays[f"{split}_labels"] = labels[index]
        arrays[f"{split}_source_index"] = index.astype(np.int32)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_npz(args.out, arrays)
    counts = ", ".join(f"{key} {arrays[key].shape}" for key in arrays if key.endswith("_images"))
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.2f} MB): {counts}")


if __name__ == "__main__":
    main()
