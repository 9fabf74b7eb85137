"""Data-parallel setup on MindSpore's collective communication, under msrun or mpirun."""
import ipaddress
import logging
import os
import socket
import subprocess
import sys
from typing import Tuple

import mindspore as ms
from mindspore.communication import get_group_size, get_rank, init

from ..errors import MindCVError

_logger = logging.getLogger(__name__)

DEFAULT_SCHED_PORT = 8118
_MPI_RANK_VARS = ("OMPI_COMM_WORLD_RANK", "PMI_RANK")
_MPI_SIZE_VARS = ("OMPI_COMM_WORLD_SIZE", "PMI_SIZE")
_MPI_LOCAL_RANK_VARS = ("OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID")
_MPI_LOCAL_SIZE_VARS = ("OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS")


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
        # The scheduler leaves by itself once every worker has unregistered (at their exit).
        scheduler = subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.DEVNULL, start_new_session=True)
        _logger.info("started MindSpore scheduler (pid %d) on %s:%s", scheduler.pid, host, port)
    os.environ.update({"MS_ROLE": "MS_WORKER", "MS_NODE_ID": rank})


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
