"""Where mindcv keeps what it makes or fetches once ($MINDCV_HOME), and content hashes that name or check those files.

A base module: checkpoints, data sets and kernels all use it, so none of them imports another for it.
"""
import hashlib
import os
from pathlib import Path
from typing import Union


def cache_dir() -> Path:
    """`$MINDCV_HOME`, or ~/.cache/mindcv."""
    return Path(os.environ.get("MINDCV_HOME", Path.home() / ".cache" / "mindcv"))


def file_hash(path: Union[str, os.PathLike], algorithm: str = "sha256") -> str:
    """Hex digest of a file's bytes, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
