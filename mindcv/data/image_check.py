"""Find images the pipeline cannot decode, before a long run trips on them (CLI: mindcv.data.check)."""
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Callable, List, Optional, Tuple, Union

from PIL import Image
from tqdm import tqdm

from ..errors import DataError
from .folder import IMAGE_EXTENSIONS, is_image_file
from .seeded import failed_sample

MINDSPORE_FORMATS = ("JPEG", "PNG", "BMP", "TIFF")
# MindSpore's map ops name the sample's file in their error message like this
_PIPELINE_FILE = re.compile(r"The corresponding data file is: (.+?)\. (.*?)(?:\n|$)")


def image_files(root: Union[str, Path]) -> List[Path]:
    """Every file under `root` with an image extension, sorted."""
    root = Path(root)
    if not root.is_dir():
        raise DataError(f"{root}: folder not found")
    found = []
    for folder, _dirs, names in os.walk(root):
        found += [Path(folder) / name for name in names if is_image_file(name)]
    return sorted(found)


def decode_error(path: Path) -> Optional[str]:
    """None if the image decodes completely in a format MindSpore's Decode reads, else the reason.

    PIL is the judge (MindSpore's eager Decode writes a copy of each bad file into the
    working folder); it is strict, so a truncated JPEG that libjpeg would quietly pad
    with grey is reported too.
    """
    try:
        with Image.open(path) as image:
            if image.format not in MINDSPORE_FORMATS:
                return f"{image.format} is not a format MindSpore's Decode reads ({', '.join(MINDSPORE_FORMATS)})"
            image.load()
    except Exception as err:  # whatever stops the decoder makes the file unreadable
        return f"{type(err).__name__}: {err}"
    return None


def find_unreadable_images(
    root: Union[str, Path], workers: int = 2, progress: bool = True
) -> Tuple[int, List[Tuple[Path, str]]]:
    """Decode every image under `root`; return the number checked and the (path, reason) of failures."""
    files = image_files(root)
    if not files:
        raise DataError(f"{root}: no image files ({', '.join(IMAGE_EXTENSIONS[:4])}) found")
    with ThreadPoolExecutor(max(1, workers)) as pool:
        reasons = list(tqdm(pool.map(decode_error, files), total=len(files), unit="img", disable=not progress))
    return len(files), [(path, reason) for path, reason in zip(files, reasons) if reason is not None]


def unreadable_image_error(err: BaseException, file_of_sample: Optional[Callable[[int], Path]] = None) -> Optional[DataError]:
    """A DataError naming the file, for a pipeline error caused by one image; None for other errors.

    Entry points catch the RuntimeError that iterating a dataset raises and print this instead.
    MindSpore's map ops name the file themselves; a per-sample seeded loader names the sample's
    index (its position in the pipeline), which `file_of_sample` turns into the file.
    """
    match = _PIPELINE_FILE.search(str(err))
    if match is not None:
        path, reason = match[1], match[2].strip()
    elif file_of_sample is not None and failed_sample(err) is not None:
        sample, reason = failed_sample(err)
        path = file_of_sample(sample)
    else:
        return None
    hint = "list all such files with: python -m mindcv.data.check ROOT"
    return DataError(f"{path}: cannot decode this image ({reason}); {hint}")
