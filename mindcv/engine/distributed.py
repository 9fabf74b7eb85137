"""Data-parallel setup on MindSpore's collective communication, under msrun or mpirun."""
import ipaddress
import logging
import os
import socket
import subprocess
import sys
from typing import NoReturn, Optional, Tuple

import mindspore as ms
from mindspore.communication import get_group_size, get_rank, init

from ..errors import MindCVError
from .peers import say_goodbye

_logger = logging.getLogger(__name__)

DEFAULT_SCHED_PORT = 8118
_MPI_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMI_RANK")
_MPI_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
_MPI_LOCAL_RANK_VARS = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID")
_MPI_LOCAL_SIZE_VARS = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS")
# Set when this process joined a cluster it made under mpirun; the scheduler if this process started it.
_under_mpirun_cluster = False
_scheduler: Optional[subprocess.Popen] = None


def _first_env(names: Tuple[str, ...]) -> str:
    return next((os.environ[n] for n in names if n in os.environ), "")


def _resolve(host: str) -> str:
    try:
        return socket.gethostbyname(host)
    except OSError:
        raise MindCVError(f"MS_SCHED_HOST {host}: not an address or a known host name") from None


def _is_address_of_this_host(host: str) -> bool:
    try:
        with socket.socket() as probe:
            probe.bind((host, 0))
        return True
    except OSError:
        return False


def _start_cluster_under_mpirun() -> None:
    """Turn mpirun's processes into a MindSpore cluster.

    mpirun starts only workers; MindSpore's dynamic cluster also needs a scheduler process
    and MS_* variables. The scheduler listens on MS_SCHED_HOST:MS_SCHED_PORT (default
    127.0.0.1:8118, one host); local rank 0 of the host that has that address starts it. Over
    several hosts, MS_SCHED_HOST must be exported to every rank (`mpirun -x MS_SCHED_HOST=...`).
    """
    global _under_mpirun_cluster, _scheduler
    rank, size = _first_env(_MPI_RANK_VARS), _first_env(_MPI_SIZE_VARS)
    local_size = _first_env(_MPI_LOCAL_SIZE_VARS)
    host = os.environ.get("MS_SCHED_HOST", "127.0.0.1")
    if local_size and local_size != size and ipaddress.ip_address(_resolve(host)).is_loopback:
        raise MindCVError(
            f"mpirun started {size} processes on several hosts ({local_size} on this one), but the scheduler address "
            f"MS_SCHED_HOST is {host}: export the first host's address to every rank (mpirun -x MS_SCHED_HOST=ADDRESS)"
        )
    port = os.environ.get("MS_SCHED_PORT", str(DEFAULT_SCHED_PORT))
    cluster = {"MS_WORKER_NUM": size, "MS_SCHED_HOST": host, "MS_SCHED_PORT": port}
    os.environ.update(cluster)
    if _first_env(_MPI_LOCAL_RANK_VARS) in ("0", "") and _is_address_of_this_host(host):
        env = {**os.environ, **cluster, "MS_ROLE": "MS_SCHED"}
        for name in _MPI_RANK_VARS + _MPI_SIZE_VARS:
            env.pop(name, None)
        code = "from mindspore.communication import init; init()"
        _scheduler = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, start_new_session=True)
        _logger.info("started MindSpore scheduler (pid %d) on %s:%s", _scheduler.pid, host, port)
    os.environ.update({"MS_ROLE": "MS_WORKER", "MS_NODE_ID": rank})
    _under_mpirun_cluster = True


def init_distributed(distribute: bool) -> Tuple[int, int]:
    """(rank, number of processes); (0, 1) when not distributed.

    Under msrun the MS_* variables are already set. Under mpirun on the CPU, the
    scheduler MindSpore needs is started here.
    """
    if not distribute:
        return 0, 1
    under_mpirun = bool(_first_env(_MPI_SIZE_VARS))
    if under_mpirun and "MS_ROLE" not in os.environ:
        if ms.get_context("device_target") == "CPU":
            _start_cluster_under_mpirun()
    if "MS_ROLE" not in os.environ and not under_mpirun:
        raise MindCVError("distribute is true but no launcher started this process: use msrun or mpirun (see README)")
    init()
    rank, size = get_rank(), get_group_size()
    ms.set_auto_parallel_context(parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True, device_num=size)
    return rank, size


def end_process(exit_code: int) -> NoReturn:
    """Exit with `exit_code`; under mpirun, without MindSpore's cluster teardown.

    That teardown (each worker unregistering from the scheduler at interpreter exit) crashes
    with SIGSEGV in MindSpore 2.10's TCP client thread when mpirun has bound the ranks to cores
    and the host is busy: 20 of 43 two-rank runs on a loaded 2-core machine (1 of 52 idle),
    always after every file was written, yet mpirun then reports the job failed (exit 139). So under
    mpirun a rank tells its peers it leaves, flushes its logs and exits at once, and the rank
    that started the scheduler stops it. Under msrun (never seen to crash so) the launcher's
    scheduler waits for every worker's unregistration, so there the teardown stays.
    """
    if not _under_mpirun_cluster:
        sys.exit(exit_code)
    say_goodbye()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    if _scheduler is not None:
        _scheduler.terminate()
        try:
            _scheduler.wait(timeout=10)
        except subprocess.TimeoutExpired:
            _scheduler.kill()
    os._exit(exit_code)
