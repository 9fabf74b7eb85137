"""Fetch weight files into a local cache, verified, never half-written."""
import logging
import os
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Optional

from tqdm import tqdm

from ..cache import cache_dir, file_hash
from ..errors import CheckpointError
from ..fileio import atomic_output, write_text_atomic

_logger = logging.getLogger(__name__)
_HASH_ALGORITHMS = ("sha256", "md5")


def _parse_hash(expected: str) -> tuple:
    algorithm, sep, hexdigest = expected.partition(":")
    if not sep or algorithm not in _HASH_ALGORITHMS or not hexdigest:
        raise ValueError(f"hash must look like 'sha256:<hex>' or 'md5:<hex>', got '{expected}'")
    return algorithm, hexdigest.lower()


def verify_hash(path: Path, expected: str) -> None:
    """Raise unless the file's digest starts with the expected one (short prefixes allowed)."""
    algorithm, hexdigest = _parse_hash(expected)
    actual = file_hash(path, algorithm)
    if not actual.startswith(hexdigest):
        raise CheckpointError(f"{path}: {algorithm} is {actual}, expected {hexdigest}; the file is corrupt or not the published one")


def _trust_on_first_use(path: Path, target: Path) -> None:
    """For files without a published hash: `path` must have the sha256 recorded in `<target>.sha256`.

    The first download records it; every later download or use of the cached file is checked.
    """
    record = target.with_name(target.name + ".sha256")
    digest = file_hash(path)
    if not record.is_file():
        write_text_atomic(record, digest + "\n")
        _logger.warning("%s has no published hash; recorded its sha256 %s in %s", target.name, digest, record)
        return
    expected = record.read_text().strip()
    if digest != expected:
        raise CheckpointError(
            f"{target}: sha256 is {digest}, but {record} recorded {expected} at the first download; the file changed "
            "since (damaged, tampered with, or replaced at the source): delete both files to trust a new download"
        )


def download_cached(url: str, expected_hash: str = "", folder: Optional[Path] = None, progress: bool = True) -> Path:
    """Return a local copy of `url` (http(s) or file://), downloading it once.

    The file is written under a temporary name and renamed only after the hash
    (when given) matches, so an interrupted download leaves nothing behind. Without
    a hash, the sha256 of the first download is recorded beside it in `<name>.sha256`
    and every later use is checked against it (trust on first use).
    """
    folder = Path(folder) if folder else cache_dir() / "checkpoints"
    name = os.path.basename(urllib.parse.urlparse(url).path)
    if not name:
        raise CheckpointError(f"{url}: the url names no file")
    target = folder / name
    if target.is_file():
        if expected_hash:
            verify_hash(target, expected_hash)
        else:
            _trust_on_first_use(target, target)
        return target
    folder.mkdir(parents=True, exist_ok=True)
    _logger.info("downloading %s to %s", url, target)
    try:
        with atomic_output(target) as tmp:
            with open(tmp, "wb") as out, urllib.request.urlopen(url, timeout=60) as response:
                total = int(response.headers.get("Content-Length") or 0) or None
                with tqdm(total=total, unit="B", unit_scale=True, desc=name, disable=not progress) as bar:
                    for chunk in iter(lambda: response.read(1 << 20), b""):
                        out.write(chunk)
                        bar.update(len(chunk))
            # Checked before the rename: a file that fails never appears under its name.
            if expected_hash:
                verify_hash(tmp, expected_hash)
            else:
                _trust_on_first_use(tmp, target)
    except OSError as err:
        raise CheckpointError(f"{url}: download failed ({err})") from err
    return target
