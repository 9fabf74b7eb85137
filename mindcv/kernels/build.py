"""Compile the C++ kernels once per machine into `$MINDCV_HOME/kernels`, or report why not."""
import hashlib
import logging
import os
import platform
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Optional

import mindspore as ms

from ..cache import cache_dir

_logger = logging.getLogger(__name__)

SOURCE_DIR = Path(__file__).resolve().parent
# -march=native: the library is built on the machine that runs it (the CPU's flags are in its name).
COMPILE_FLAGS = ("-O3", "-march=native", "-std=c++14", "-pthread", "-shared", "-fPIC")
DISABLE_ENV = "MINDCV_CUSTOM_KERNELS"


def _cpu_flags() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return line
    except OSError:
        pass
    return platform.processor()


def _compiler() -> Optional[str]:
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")


@lru_cache(maxsize=None)
def build_library(source_name: str) -> Optional[Path]:
    """Path of the compiled shared library for `source_name` (a .cc file in this folder).

    None when kernels are disabled (`MINDCV_CUSTOM_KERNELS=0`), and with one warning when
    the platform is not Linux, no C++ compiler is found or compilation fails; callers
    then use MindSpore's own operators. The library is written under a temporary name and
    renamed, so processes building it at once (the ranks of one machine) never load half a file.
    """
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return None
    if platform.system() != "Linux":
        _logger.warning("custom CPU kernels are built on Linux only; using MindSpore's operators")
        return None
    compiler = _compiler()
    if compiler is None:
        _logger.warning("no C++ compiler (set CXX or install g++): using MindSpore's slower operators")
        return None
    source = SOURCE_DIR / source_name
    headers = b"".join(header.read_bytes() for header in sorted(SOURCE_DIR.glob("*.h")))
    key = hashlib.sha256(source.read_bytes() + headers + " ".join((compiler, *COMPILE_FLAGS, _cpu_flags())).encode()).hexdigest()
    target = cache_dir() / "kernels" / f"{source.stem}-{key[:16]}.so"
    if target.is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
    try:
        subprocess.run([compiler, *COMPILE_FLAGS, str(source), "-o", str(tmp)], check=True, capture_output=True, text=True)
        os.replace(tmp, target)
    except (OSError, subprocess.CalledProcessError) as err:
        detail = getattr(err, "stderr", "") or str(err)
        _logger.warning("could not compile %s (%s); using MindSpore's operators", source.name, detail.strip()[:500])
        return None
    finally:
        tmp.unlink(missing_ok=True)
    _logger.info("compiled %s into %s", source.name, target)
    return target


def kernel_available() -> bool:
    """Whether mindcv's kernels will be used: CPU device target and every library built."""
    sources = sorted(path.name for path in SOURCE_DIR.glob("*.cc"))
    return ms.get_context("device_target") == "CPU" and all(build_library(source) is not None for source in sources)
