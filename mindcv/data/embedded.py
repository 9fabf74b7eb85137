"""The embedded data set: a balanced subset of Fashion-MNIST shipped inside the package.

`assets/fashion_mnist_subset.npz` (made by tools/make_embedded_dataset.py) holds
500 train and 150 val greyscale 28x28 images per class, 10 classes: small
enough to ship (under 3 MB), large enough for a demo that learns. It is unpacked
once into an ImageNet-layout folder of PNG files in the cache, so the demo runs
the same folder pipeline as ImageNet (Decode turns the grey PNGs into RGB).
"""
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import List

import numpy as np

from ..cache import cache_dir, file_hash
from ..errors import DataError
from .idx import write_image_folder

ASSET_PATH = Path(__file__).parent / "assets" / "fashion_mnist_subset.npz"
SPLITS = ("train", "val")
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)


def fashion_mnist_class_names() -> List[str]:
    """Class names of the embedded data set, in label order."""
    return list(FASHION_MNIST_CLASSES)


def fashion_mnist_folder_names() -> List[str]:
    """Class folder names, e.g. `0_tshirt_top`: the digit prefix keeps sorted order == label order."""
    names = (re.sub("[^a-z0-9]+", "_", name.lower().replace("-", "")) for name in FASHION_MNIST_CLASSES)
    return [f"{label}_{name}" for label, name in enumerate(names)]


def _unpack(asset: Path, target: Path) -> None:
    with np.load(asset) as arrays:
        for split in SPLITS:
            images, labels, sources = (arrays[f"{split}_{key}"] for key in ("images", "labels", "source_index"))
            write_image_folder(target / split, images, labels, sources, fashion_mnist_folder_names())


def prepare_fashion_mnist() -> Path:
    """Return the unpacked folder (`train/`, `val/`), unpacking the asset on first use.

    The folder lives in `$MINDCV_HOME/datasets` under a name that carries the
    asset's digest. It is written to a temporary folder and renamed in one step,
    so an interrupted unpack leaves no half folder, and concurrent ranks agree.
    """
    if not ASSET_PATH.is_file():
        raise DataError(f"{ASSET_PATH}: embedded data set missing from the installed package; reinstall mindcv")
    target = cache_dir() / "datasets" / f"fashion_mnist-{file_hash(ASSET_PATH)[:12]}"
    if target.is_dir():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        _unpack(ASSET_PATH, staging)
        os.rename(staging, target)
    except OSError as err:
        if not target.is_dir():  # losing a race to another process is fine; anything else is not
            raise DataError(f"{target}: cannot unpack the embedded data set ({err})") from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
