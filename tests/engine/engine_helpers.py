import re
import socket
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
from PIL import Image

CLASSES = ("ant", "bee", "cat", "dog")


def write_image_folder(root: Path, per_class: dict, size: int = 24, seed: int = 0) -> Path:
    """An ImageNet-layout folder of PNGs whose colour tells the class, so a network can learn it."""
    rng = np.random.default_rng(seed)
    for split, count in per_class.items():
        for index, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            base = np.zeros(3)
            base[index % 3] = 200 if index < 3 else 0
            for i in range(count):
                pixels = np.clip(base + rng.normal(0, 25, (size, size, 3)), 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(folder / f"{name}_{i}.png")
    return root


def train_args(data_dir: Path, save_dir: Path, *extra: str) -> list:
    """Command-line arguments for a tiny, fast CPU run."""
    return [
        "--device_target", "CPU", "--dataset", "imagenet", "--data_dir", str(data_dir),
        "--model", "mobilenet_v2_035", "--num_classes", "4", "--image_resize", "32", "--batch_size", "8",
        "--num_parallel_workers", "1", "--ckpt_save_dir", str(save_dir), "--epoch_size", "2",
        "--scheduler", "cosine_decay", "--lr", "0.05", "--warmup_epochs", "1", "--decay_epochs", "3",
        "--weight_decay", "0.0001", "--log_interval", "2", "--color_jitter", "none", *extra,
    ]


def free_port() -> int:
    """A TCP port nobody listens on now (for a scheduler or master)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def final_checksums(save_dir: Path) -> Dict[int, Tuple[int, str]]:
    """rank -> (world size, final parameter checksum), from the train*.log files of a run."""
    found = {}
    for log in save_dir.glob("train*.log"):
        for rank, world, digest in re.findall(r"final parameter checksum \(rank (\d+) of (\d+)\): (\w+)", log.read_text()):
            found[int(rank)] = (int(world), digest)
    return found
