"""Small image folders for the data tests."""
import io
import zlib
from pathlib import Path
from typing import Dict, Tuple

import numpy as np
from PIL import Image


def encode(pixels: np.ndarray, fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format=fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def write_images(
    split_dir: Path, counts: Dict[str, int], size: Tuple[int, int] = (40, 48), fmt: str = "JPEG"
) -> Dict[bytes, str]:
    """Write `counts[class]` distinct images per class folder; return encoded bytes -> 'class/file'."""
    rng = np.random.default_rng(zlib.crc32(str(split_dir).encode()))  # distinct images per folder
    suffix = ".JPEG" if fmt == "JPEG" else ".png"
    written = {}
    for name, count in counts.items():
        (split_dir / name).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            data = encode(pixels, fmt)
            (split_dir / name / f"img{i:03d}{suffix}").write_bytes(data)
            written[data] = f"{name}/img{i:03d}{suffix}"
    return written


def read_raw(dataset) -> list:
    """(encoded bytes, label) of every row of a folder dataset, in reading order."""
    rows = dataset.create_dict_iterator(output_numpy=True, num_epochs=1)
    return [(row["image"].tobytes(), int(row["label"])) for row in rows]
