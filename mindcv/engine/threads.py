"""The CPU threads of one process: one count for MindSpore's operators, oneDNN and mindcv's kernels.

The count decides results, not only speed. oneDNN (MindSpore's CPU convolutions) splits a
convolution's weight gradient into one partial sum per core it sees when it creates the
primitive (its cores per socket, capped by the CPU affinity of the creating thread) and adds
them in that order. So the same run on 1 and on 2 cores, or under mpirun (which binds each rank
to a core) and msrun (which does not), ends with different weights. `configure_threads` makes the
results a function of the count alone: it binds the process to that many cores and tells
MindSpore, oneDNN and mindcv's kernels to use that many threads.
"""
import ctypes
import dataclasses
import logging
import os
from pathlib import Path
from typing import List, Optional, Tuple

import mindspore as ms
import yaml
from mindspore.communication import get_local_rank, get_local_rank_size

from ..checkpoint import load_checkpoint
from ..config import RunConfig, available_cpus
from ..kernels import set_num_threads

_logger = logging.getLogger(__name__)

# MindSpore takes its operator thread count once per process (a second call raises).
_mindspore_threads: Optional[int] = None


def local_position() -> Tuple[int, int]:
    """(this process's index among the job's processes on its host, their number); (0, 1) alone."""
    return get_local_rank(), get_local_rank_size()


def default_thread_count(local_ranks: int) -> int:
    """The cores this process owns: those it may run on, shared by the job's processes on the host."""
    return max(1, available_cpus() // local_ranks)


def owned_cores(count: int, local_rank: int) -> List[int]:
    """`count` of the cores this process may run on: the local ranks take consecutive slices
    (msrun starts them all on every core); a launcher that bound each rank already (mpirun)
    leaves each its own. All of them when `count` is more than there are."""
    allowed = sorted(os.sched_getaffinity(0))
    if count >= len(allowed):
        return allowed
    start = local_rank * count % len(allowed)
    return [allowed[(start + i) % len(allowed)] for i in range(count)]


def _bind_process(cores: List[int]) -> None:
    """Set the affinity of every thread of the process (MindSpore started some at import); threads
    started later inherit it."""
    for task in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(task), cores)
        except ProcessLookupError:  # the thread ended meanwhile
            pass


def _set_onednn_concurrency(count: int) -> None:
    """Make oneDNN plan for `count` threads in primitives this thread creates (graph-mode
    compilation), even when the process may run on fewer cores. oneDNN keeps the value per thread."""
    library = next((Path(ms.__file__).parent / "lib").glob("libdnnl.so*"), None)
    if library is None:  # a MindSpore build without oneDNN
        return
    ctypes.CDLL(str(library)).dnnl_threadpool_interop_set_max_concurrency(ctypes.c_int(count))


def configure_threads(requested: int = 0) -> int:
    """Pin this process's intra-op thread count (`requested`, or 0 for `default_thread_count`) and
    bind it to that many cores; return the count. Call after the cluster is initialised and before
    the first operator runs."""
    global _mindspore_threads
    local_rank, local_ranks = local_position()
    count = requested or default_thread_count(local_ranks)
    cores = owned_cores(count, local_rank)
    if count > len(cores):
        _logger.warning(
            "num_threads %d: this process may run on only %d core(s) (%s), so it runs %d threads on them; results equal a "
            "run on %d cores in graph mode, while PyNative mode plans oneDNN's work for the %d core(s)",
            count, len(cores), ",".join(map(str, cores)), count, count, len(cores),
        )
    _bind_process(cores)
    if _mindspore_threads is None:
        ms.device_context.cpu.op_tuning.threads_num(count)
        _mindspore_threads = count
    elif _mindspore_threads != count:
        _logger.warning("MindSpore's operators keep the %d threads set earlier in this process (now %d requested)", _mindspore_threads, count)
    _set_onednn_concurrency(count)
    set_num_threads(count)
    _logger.info("%d intra-op thread(s) on core(s) %s (process %d of %d on this host)", count, ",".join(map(str, cores)), local_rank, local_ranks)
    return count


def recorded_thread_count(checkpoint: Path) -> int:
    """The thread count a checkpoint was trained with (0 when it predates the setting)."""
    config = yaml.safe_load(load_checkpoint(checkpoint).get("config") or "{}")
    return int(config.get("num_threads") or 0)


def pin_run_threads(cfg: RunConfig, resume_from: Optional[Path] = None) -> RunConfig:
    """Apply the run's thread count and return `cfg` holding it, so that config.yaml and every
    checkpoint record the count in force. A resumed run keeps the checkpoint's count unless
    num_threads is set; a different one is used with a warning naming both (the run then
    continues, but not bit for bit as it would have)."""
    requested = cfg.system.num_threads
    recorded = recorded_thread_count(resume_from) if resume_from else 0
    if recorded and not requested:
        requested = recorded
        _logger.info("resuming with the %d thread(s) %s was trained with", recorded, resume_from)
    elif recorded and requested != recorded:
        _logger.warning(
            "num_threads is %d but %s was trained with %d: the run continues, but its results will not equal those "
            "of the uninterrupted run bit for bit (set num_threads %d for that)",
            requested, resume_from, recorded, recorded,
        )
    count = configure_threads(requested)
    return dataclasses.replace(cfg, system=dataclasses.replace(cfg.system, num_threads=count))
