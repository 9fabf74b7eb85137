"""The PyTorch peer: the same MobileNetV2 (benchmarks/torch_mobilenetv2.py) on the CPU, NCHW or channels_last."""
import argparse
from functools import partial
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.utils.data import DataLoader

from .pil_pipeline import IMAGENET_MEAN, IMAGENET_STD, image_files, train_sample
from .protocol import model_width
from .torch_mobilenetv2 import TorchMobileNetV2

IMPLS = ("torch-nchw", "torch-cl")


def setup(threads: int) -> None:
    """`threads` intra-op threads, one inter-op thread (a single-stream step has nothing to run beside itself)."""
    torch.set_num_threads(threads)
    torch.set_num_interop_threads(1)


def _layout(impl: str) -> torch.memory_format:
    return torch.channels_last if impl == "torch-cl" else torch.contiguous_format


def _model_and_inputs(args: argparse.Namespace, impl: str) -> tuple:
    torch.manual_seed(0)
    model = TorchMobileNetV2(model_width(args.model), args.num_classes).to(memory_format=_layout(impl))
    rng = np.random.default_rng(0)
    images = rng.standard_normal((args.batch_size, 3, args.resolution, args.resolution)).astype(np.float32)
    labels = rng.integers(0, args.num_classes, args.batch_size)
    return model, torch.from_numpy(images).to(memory_format=_layout(impl)), torch.from_numpy(labels)


def build_train(args: argparse.Namespace, impl: str) -> Callable[[], None]:
    """One SGD-with-momentum step on cross-entropy, loss read back (as a training loop logs it)."""
    model, images, labels = _model_and_inputs(args, impl)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, weight_decay=4e-5)
    loss_fn = torch.nn.CrossEntropyLoss()

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), labels)
        loss.backward()
        optimizer.step()
        loss.item()

    return step


def build_infer(args: argparse.Namespace, impl: str) -> Callable[[], None]:
    model, images, _ = _model_and_inputs(args, impl)
    model.eval()

    def forward() -> None:
        with torch.inference_mode():
            model(images).numpy()

    return forward


class ImageFolder(torch.utils.data.Dataset):
    """(image, label) of an ImageNet-layout split: class folders in sorted order (as train.py reads them),
    the sample made by `transform(path)`."""

    def __init__(self, root: Path, transform: Callable) -> None:
        classes = sorted(p.name for p in root.iterdir() if p.is_dir())
        self.samples = [(path, label) for label, name in enumerate(classes) for path in image_files(root / name)]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple:
        path, label = self.samples[index]
        return torch.from_numpy(self.transform(path)), label


def build_e2e(args: argparse.Namespace, impl: str) -> Callable[[], None]:
    """One epoch of a plain PyTorch training loop on `--folder`: the demo recipe (PIL random resized
    crop, flip, normalize; SGD momentum, label smoothing), batches from a DataLoader with `--workers` processes."""
    transform = partial(train_sample, size=args.resolution, scale=tuple(args.scale), ratio=tuple(args.ratio), hflip=0.5,
                        mean=IMAGENET_MEAN, std=IMAGENET_STD)
    loader = DataLoader(ImageFolder(Path(args.folder) / "train", transform), batch_size=args.batch_size, shuffle=True,
                        drop_last=True, num_workers=args.workers, persistent_workers=True)
    torch.manual_seed(0)
    model = TorchMobileNetV2(model_width(args.model), args.num_classes).to(memory_format=_layout(impl))
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=4e-5)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.1)

    def epoch() -> None:
        for images, labels in loader:
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(images.to(memory_format=_layout(impl))), labels)
            loss.backward()
            optimizer.step()
            loss.item()

    return epoch
