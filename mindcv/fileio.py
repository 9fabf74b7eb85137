"""Small text files (indexes, summaries, configs) written so a crash never leaves half a file."""
import os
from pathlib import Path
from typing import Union


def write_text_atomic(path: Union[str, os.PathLike], text: str) -> None:
    """Write `text` to a temporary file beside `path`, flush it to disk, then rename it over `path`."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        with open(tmp, "w", newline="") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
