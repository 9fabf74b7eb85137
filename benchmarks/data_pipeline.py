"""Images per second of the training data pipeline, next to a plain PIL + numpy pipeline.

Both do the same work on the same JPEG files: decode, random resized crop to 224
(area 0.08-1, aspect 3/4-4/3, bilinear), horizontal flip with probability 0.5,
normalize with the ImageNet mean/std, HWC to CHW, batches of 64, with 2 workers
(MindSpore: 2 pipeline threads; PIL: a pool of 2 processes). Ours decodes and
crops in one op (RandomCropDecodeResize), which decodes only the crop of a JPEG.

    python benchmarks/data_pipeline.py [--folder ROOT] [--epochs 3]

The third row is the same work the way train.py reads its data since exact mid-epoch resume
(per-image seeds, ops run eagerly in 2 worker processes, started afresh each epoch, as the
trainer does). images_per_s counts whole passes; steady_images_per_s runs from each pass's
first batch to its last, without starting and stopping workers (about a second per pass for
worker processes, which only short epochs notice). Without --folder, 512 JPEGs of 500x375 are generated (deterministically) in a
temporary ImageNet-layout folder. Results go to benchmarks/results/data_pipeline.csv.
"""
import argparse
import csv
import random
import tempfile
import time
from multiprocessing import Pool
from pathlib import Path
from typing import Callable

import mindspore.dataset as ds
import numpy as np
from PIL import Image

from mindcv.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from mindcv.data import create_dataset, create_loader, create_transforms
from mindcv.data.folder import is_image_file
from mindcv.data.sharding import epoch_plan

from .pil_pipeline import train_sample

RESULTS = Path(__file__).parent / "results" / "data_pipeline.csv"
SIZE, BATCH, WORKERS = 224, 64, 2
SCALE, RATIO = (0.08, 1.0), (3 / 4, 4 / 3)
MEAN = np.array(IMAGENET_DEFAULT_MEAN, np.float32)
STD = np.array(IMAGENET_DEFAULT_STD, np.float32)


def make_jpegs(root: Path, count: int = 512, classes: int = 8, size=(500, 375)) -> None:
    """Photo-like JPEGs: smooth random colour fields plus grain, about 40-60 kB each."""
    rng = np.random.default_rng(0)
    for i in range(count):
        coarse = rng.integers(0, 256, (6, 8, 3), dtype=np.uint8)
        smooth = np.asarray(Image.fromarray(coarse).resize(size, Image.Resampling.BICUBIC), np.float32)
        pixels = np.clip(smooth + rng.normal(0, 6, smooth.shape), 0, 255).astype(np.uint8)
        folder = root / "train" / f"class_{i % classes}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels).save(folder / f"{i:04d}.JPEG", quality=90)


def pil_sample(path: Path, size: int = SIZE, scale: tuple = SCALE, ratio: tuple = RATIO) -> np.ndarray:
    """Decode, random resized crop to `size` (bilinear), flip with probability 0.5, normalize, CHW."""
    return train_sample(path, size, scale, ratio, 0.5, MEAN, STD)


def image_files(root: Path) -> list:
    return sorted(path for path in (root / "train").rglob("*") if is_image_file(path.name))


class _Steady:
    """Times a pass from its first batch to its last: the rate without starting and stopping workers."""

    def __init__(self) -> None:
        self.first = self.last = None
        self.images = 0

    def batch(self, size: int) -> None:
        self.last = time.perf_counter()
        if self.first is None:
            self.first = self.last
        else:
            self.images += size

    def result(self) -> tuple:
        return self.last - self.first, self.images


def pil_epoch(files: list, pool: Pool) -> tuple:
    """One shuffled pass over `files` in batches of BATCH, the samples made by `pool`."""
    batch, steady = [], _Steady()
    for sample in pool.imap(pil_sample, random.sample(files, len(files)), chunksize=8):
        batch.append(sample)
        if len(batch) == BATCH:
            steady.batch(len(np.stack(batch)))
            batch = []
    if batch:
        steady.batch(len(np.stack(batch)))
    return steady.result()


def mindspore_epochs(root: Path, size: int = SIZE, batch_size: int = BATCH, workers: int = WORKERS) -> Callable[[], None]:
    """A function running one pass of mindcv's training pipeline over `root`/train per call."""
    dataset = create_dataset("imagenet", root, "train", shuffle=True, num_parallel_workers=workers)
    transform = create_transforms("imagenet", image_resize=size, is_training=True, scale=SCALE, ratio=RATIO, hflip=0.5)
    loader = create_loader(dataset, batch_size, is_training=True, transform=transform, num_parallel_workers=workers)

    def epoch() -> tuple:
        # A fresh iterator per epoch, as the trainer makes: a long-lived one would prefetch
        # the next epoch while idle, which an alternating benchmark would count as free.
        return _passes(loader)

    return epoch


def _passes(loader) -> tuple:
    steady = _Steady()
    for images, _ in loader.create_tuple_iterator(output_numpy=True, num_epochs=1):
        steady.batch(len(images))
    return steady.result()


def seeded_epochs(root: Path, size: int = SIZE, batch_size: int = BATCH, workers: int = WORKERS) -> Callable[[], None]:
    """The same work the way train.py reads its data: each epoch's rows and per-image seeds from
    `epoch_plan`, the ops run eagerly per image under its seed, in `workers` processes."""
    num_rows = create_dataset("imagenet", root, "train", shuffle=False).get_dataset_size()
    transform = create_transforms("imagenet", image_resize=size, is_training=True, scale=SCALE, ratio=RATIO, hflip=0.5)
    epochs = iter(range(10**6))

    def epoch() -> tuple:
        plan = epoch_plan(num_rows, seed=0, epoch=next(epochs))
        dataset = create_dataset("imagenet", root, "train", num_parallel_workers=workers, rows=plan.rows)
        loader = create_loader(dataset, batch_size, is_training=True, transform=transform, num_parallel_workers=workers,
                               sample_seeds=plan.seeds)
        return _passes(loader)

    return epoch


def _timed(epoch: Callable[[], tuple], epochs: int) -> tuple:
    """(seconds for `epochs` passes, steady images per second: first batch to last, summed over the passes)."""
    start, steady_seconds, steady_images = time.perf_counter(), 0.0, 0
    for _ in range(epochs):
        seconds, images = epoch()
        steady_seconds += seconds
        steady_images += images
    return time.perf_counter() - start, steady_images / steady_seconds


def run_pil(files: list, epochs: int) -> tuple:
    """Timings of `epochs` passes; the pool starts before timing, as MindSpore's warm-up epoch does."""
    with Pool(WORKERS) as pool:
        pool.map(pil_sample, files[:WORKERS])
        return _timed(lambda: pil_epoch(files, pool), epochs)


def run_mindspore(root: Path, epochs: int, make_epochs: Callable = mindspore_epochs) -> tuple:
    """Timings of `epochs` passes after one untimed warm-up epoch."""
    epoch = make_epochs(root)
    epoch()
    return _timed(epoch, epochs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--folder", type=Path, help="ImageNet-layout root with a train/ split (default: generate)")
    parser.add_argument("--epochs", type=int, default=3, help="timed passes over the images")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    ds.config.set_seed(0)
    with tempfile.TemporaryDirectory() as scratch:
        root = args.folder
        if root is None:
            root = Path(scratch)
            make_jpegs(root)
        files = image_files(root)
        results = [
            ("mindcv (RandomCropDecodeResize, C++ ops)", run_mindspore(root, args.epochs)),
            ("PIL + numpy (multiprocessing pool)", run_pil(files, args.epochs)),
            ("mindcv as train.py reads (per-image seeds, eager ops, worker processes)", run_mindspore(root, args.epochs, seeded_epochs)),
        ]
    rows = [
        {
            "pipeline": name,
            "images": len(files),
            "epochs": args.epochs,
            "output": f"{BATCH}x3x{SIZE}x{SIZE}",
            "workers": WORKERS,
            "seconds": round(seconds, 3),
            "images_per_s": round(len(files) * args.epochs / seconds, 1),
            "steady_images_per_s": round(steady, 1),
        }
        for name, (seconds, steady) in results
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        print(f"{row['pipeline']:<72} {row['images_per_s']:>8.1f} images/s ({row['steady_images_per_s']:.1f} first to last batch)")
    print(f"speed-up {rows[0]['images_per_s'] / rows[1]['images_per_s']:.2f}x; written to {args.out}")


if __name__ == "__main__":
    main()
