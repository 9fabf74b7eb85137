"""Reading and writing checkpoint files, with clear errors and atomic writes."""
import logging
import os
from pathlib import Path
from typing import Collection, Dict, Optional, Union

import mindspore as ms
from mindspore import nn

from ..errors import CheckpointError
from ..fileio import atomic_output

_logger = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".ckpt", ".safetensors")
PathLike = Union[str, os.PathLike]


def checkpoint_format(path: PathLike) -> str:
    """MindSpore's `format` argument for a file name: 'ckpt' or 'safetensors'."""
    suffix = Path(path).suffix
    if suffix not in CHECKPOINT_SUFFIXES:
        raise CheckpointError(f"{path}: not a checkpoint file name (expected one of {', '.join(CHECKPOINT_SUFFIXES)})")
    return suffix[1:]


def load_checkpoint(path: PathLike, names: Optional[Collection[str]] = None) -> Dict[str, object]:
    """All entries of a checkpoint (parameters and any values saved beside them), or only those in `names`."""
    path = Path(path)
    fmt = checkpoint_format(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint file not found")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: checkpoint file is empty")
    try:
        choice = None if names is None else (lambda name: name in names)
        return ms.load_checkpoint(str(path), format=fmt, choice_func=choice)
    except (ValueError, RuntimeError, OSError) as err:
        raise CheckpointError(f"{path}: not a readable {fmt} checkpoint (truncated or another kind of file)") from err


def save_checkpoint(
    obj: Union[nn.Cell, list, dict], path: PathLike, append_dict: Optional[Dict[str, object]] = None
) -> Path:
    """Save atomically: the file appears complete under its name or not at all.

    `obj` is what `mindspore.save_checkpoint` takes (a Cell, a list of parameters or
    a name -> Parameter dict); `append_dict` holds extra ints, floats and strings.
    """
    path = Path(path)
    fmt = checkpoint_format(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_output(path) as tmp:
        ms.save_checkpoint(obj, str(tmp), append_dict=append_dict, format=fmt)
    _logger.debug("saved %s", path)
    return path
