"""Find images the pipeline cannot decode, before a long run trips on them.

    python -m mindcv.data.check ROOT [--workers N] [--quiet]

Scans ROOT recursively for image files, decodes each one completely, lists those the
pipeline cannot read (damaged, truncated, or in a format MindSpore's Decode does not
read) and exits with 1 if there are any (2 if ROOT holds no images).
"""
import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

from ..errors import DataError
from .image_check import find_unreadable_images


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mindcv.data.check", description=__doc__.split("\n\n")[0])
    parser.add_argument("root", type=Path, help="folder to scan (a data set root or one split)")
    parser.add_argument("--workers", type=int, default=2, help="decoding threads (default: 2)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        checked, unreadable = find_unreadable_images(args.root, args.workers, progress=not args.quiet)
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    for path, reason in unreadable:
        print(f"{path}: {reason}")
    print(f"checked {checked} images under {args.root}: {len(unreadable)} unreadable", file=sys.stderr)
    return 1 if unreadable else 0


if __name__ == "__main__":
    sys.exit(main())
