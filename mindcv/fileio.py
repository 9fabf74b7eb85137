"""Files written so that a crash never leaves half of one: every writer in mindcv goes through `atomic_output`."""
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Union

PathLike = Union[str, os.PathLike]


def _fsync(path: Path) -> None:
    if path.is_file():
        with open(path, "rb") as f:
            os.fsync(f.fileno())


@contextmanager
def atomic_output(path: PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path` to write to; on success flush it to disk and rename it over `path`.

    The temporary name keeps the suffix (tools such as MindSpore's exporters add one
    otherwise) and stays in the same folder, so the rename is atomic. On an exception
    the temporary file is removed and `path` is left as it was.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}{path.suffix}")
    try:
        yield tmp
        _fsync(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_bytes_atomic(path: PathLike, data: bytes) -> None:
    with atomic_output(path) as tmp:
        tmp.write_bytes(data)


def write_text_atomic(path: PathLike, text: str) -> None:
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as f:
            f.write(text)
