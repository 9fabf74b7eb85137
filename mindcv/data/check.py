"""Find images the pipeline cannot decode, before a long run trips on them.

    python -m mindcv.data.check ROOT [--workers N] [--quiet]

Scans ROOT recursively for image files, decodes each one completely, lists those the
pipeline cannot read (damaged, truncated, or in a format MindSpore's Decode does not
read) and exits with 1 if there are any (2 if ROOT holds no images).
"""
import sys
from pathlib import Path
from typing import Optional, Sequence

from ..errors import ArgumentParser, DataError, exit_on_user_error
from .image_check import find_unreadable_images


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise DataError(f"--workers: expected a positive integer, got {text!r}")
    return int(text)


@exit_on_user_error
def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = ArgumentParser(prog="python -m mindcv.data.check", description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="folder to scan (a data set root or one split)")
    parser.add_argument("--workers", type=_positive, default=2, help="decoding threads (default: 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    checked, unreadable = find_unreadable_images(args.root, args.workers, progress=not args.quiet)
    for path, reason in unreadable:
        print(f"{path}: {reason}")
    print(f"checked {checked} images under {args.root}: {len(unreadable)} unreadable", file=sys.stderr)
    return 1 if unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
