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
from ..fileio import atomic_output
from ..errors import MindCVError

_logger = logging.getLogger(__name__)

SOURCE_DIR = Path(__file__).resolve().parent
# -ffp-contract=off: no fused multiply-add where the target has one, so every target rounds each
# product and sum alike and a library built for one CPU computes what one built for another does.
COMPILE_FLAGS = ("-O3", "-std=c++14", "-ffp-contract=off", "-pthread", "-shared", "-fPIC")
DISABLE_ENV = "MINDCV_CUSTOM_KERNELS"
# "1": a kernel that cannot be built is an error (CI sets it), not a fallback to MindSpore's operators.
REQUIRE_ENV = "MINDCV_REQUIRE_KERNELS"
# The -march target: the CPU that builds the library (native) unless set, e.g. x86-64 or armv8-a for a
# library that every CPU of the architecture runs.
ARCH_ENV = "MINDCV_KERNEL_ARCH"
DEFAULT_ARCH = "native"


class KernelBuildError(MindCVError):
    """The kernels are required (MINDCV_REQUIRE_KERNELS=1) but cannot be built here."""


def _unavailable(reason: str) -> None:
    """Raise when the kernels are required, else warn that MindSpore's operators take over."""
    if os.environ.get(REQUIRE_ENV) == "1":
        raise KernelBuildError(f"{reason} ({REQUIRE_ENV}=1)")
    _logger.warning("%s; using MindSpore's slower operators", reason)


def _compiler() -> Optional[str]:
    return os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")


def target_arch() -> str:
    return os.environ.get(ARCH_ENV) or DEFAULT_ARCH


@lru_cache(maxsize=None)
def _target_macros(compiler: str, arch: str) -> str:
    """The macros `compiler` predefines for `-march=arch`: its version and every instruction-set
    extension it may use. They key the build cache on any architecture (aarch64 has no x86 flags)."""
    done = subprocess.run(
        [compiler, f"-march={arch}", *COMPILE_FLAGS, "-dM", "-E", "-x", "c++", "-"],
        input="", capture_output=True, text=True, check=True,
    )
    return done.stdout


def _cache_key(compiler: str, arch: str, source: Path) -> str:
    headers = b"".join(header.read_bytes() for header in sorted(source.parent.glob("*.h")))
    target = "\n".join((platform.machine(), compiler, arch, *COMPILE_FLAGS, _target_macros(compiler, arch)))
    return hashlib.sha256(source.read_bytes() + headers + target.encode()).hexdigest()


def compile_source(compiler: str, arch: str, source: Path, output: Path) -> None:
    """`source` compiled into the shared library `output` for `-march=arch` (CalledProcessError on failure)."""
    command = [compiler, *COMPILE_FLAGS, f"-march={arch}", str(source), "-o", str(output)]
    subprocess.run(command, check=True, capture_output=True, text=True)


@lru_cache(maxsize=None)
def build_library(source_name: str) -> Optional[Path]:
    """Path of the compiled shared library for `source_name` (a .cc file in SOURCE_DIR).

    None when kernels are disabled (`MINDCV_CUSTOM_KERNELS=0`), and with one warning when
    the platform is not Linux, no C++ compiler is found or compilation fails; callers
    then use MindSpore's own operators. With `MINDCV_REQUIRE_KERNELS=1` those cases raise
    KernelBuildError with the compiler's message instead. The library is written under a
    temporary name and renamed, so processes building it at once (the ranks of one machine)
    never load half a file.
    """
    if os.environ.get(DISABLE_ENV, "1") == "0":
        return None
    if platform.system() != "Linux":
        _unavailable("mindcv's CPU kernels are built on Linux only")
        return None
    compiler = _compiler()
    if compiler is None:
        _unavailable("no C++ compiler for mindcv's CPU kernels (set CXX or install g++)")
        return None
    source, arch = SOURCE_DIR / source_name, target_arch()
    try:
        target = cache_dir() / "kernels" / f"{source.stem}-{_cache_key(compiler, arch, source)[:16]}.so"
        if target.is_file():
            return target
        target.parent.mkdir(parents=True, exist_ok=True)
        # Ranks starting together may build at once: each renames a complete file into place.
        with atomic_output(target) as tmp:
            compile_source(compiler, arch, source, Path(tmp))
    except (OSError, subprocess.CalledProcessError) as err:
        detail = (getattr(err, "stderr", "") or str(err)).strip()
        _unavailable(f"could not compile {source.name} with {compiler} -march={arch}:\n{detail[:4000]}\n")
        return None
    _logger.info("compiled %s into %s", source.name, target)
    return target


def kernel_available() -> bool:
    """Whether mindcv's kernels will be used: CPU device target and every library built."""
    sources = sorted(path.name for path in SOURCE_DIR.glob("*.cc"))
    return ms.get_context("device_target") == "CPU" and all(build_library(source) is not None for source in sources)
