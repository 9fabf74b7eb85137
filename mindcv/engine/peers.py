"""Notice, within seconds, a rank of a data-parallel job that stopped, and stop the others naming it.

Left to MindSpore, the other ranks of a job whose rank died wait in their next collective until
a timeout (MS_NODE_TIMEOUT and MS_CPU_COMM_OP_TIMEOUT, about 30 s on the CPU; HCCL's is half an
hour) and then end with "Launch kernel failed, name: AllReduce" or a SIGTERM, naming no one. So
each rank answers TCP connections on a port of the address it reaches the scheduler from (a
"beacon"); the ranks learn each other's at start (one AllGather) and probe them every few
seconds. A killed process's port refuses at once and a dead host's does not answer: the rank
that notices logs one line naming the lost ranks and how to resume, and exits. A rank that ends
normally (returns, raises, or is preempted) says goodbye first, so its peers do not take its
departure for a loss.
"""
import atexit
import logging
import os
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import List, Optional, Set, Tuple

import mindspore as ms
import numpy as np

_logger = logging.getLogger(__name__)

PROBE_INTERVAL_S = 5.0
PROBE_TIMEOUT_S = 3.0
GOODBYE_TIMEOUT_S = 1.0
GOODBYE = b"goodbye"
_active: Optional["PeerWatch"] = None  # this process's watch, once started
# Exit code of a rank that stopped because another one did (1: a crash, 2: bad input).
PEER_LOST_EXIT_CODE = 3


def _address_towards(host: str) -> str:
    """This host's IPv4 address on the route to `host` (connecting a UDP socket sends nothing)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.connect((host, 9))
        return probe.getsockname()[0]


class PeerWatch:
    """This rank's beacon, the addresses of all beacons, and the thread that probes them."""

    def __init__(self, rank: int, scheduler_host: str, resume_hint: str) -> None:
        self.rank = rank
        self.resume_hint = resume_hint
        self.departed: Set[int] = set()
        self.leaving = False  # set at exit: the probes stop
        # A large backlog: the kernel completes probes' handshakes even while this process is busy.
        self.server = socket.create_server((_address_towards(scheduler_host), 0), backlog=1024)
        address, port = self.server.getsockname()
        mine = np.array([[*socket.inet_aton(address), port]], np.int32)
        table = ms.ops.AllGather()(ms.Tensor(mine)).asnumpy()
        self.peers: List[Tuple[str, int]] = [(socket.inet_ntoa(bytes(row[:4].astype(np.uint8))), int(row[4])) for row in table]
        threading.Thread(target=self._answer, name="mindcv-beacon", daemon=True).start()
        threading.Thread(target=self._watch, name="mindcv-peer-watch", daemon=True).start()
        atexit.register(self.say_goodbye)

    def _answer(self) -> None:
        """Accept probes (they send nothing) and goodbyes (`goodbye <rank>`)."""
        while True:
            connection, _ = self.server.accept()
            with connection:
                connection.settimeout(PROBE_TIMEOUT_S)
                try:
                    message = connection.recv(64)
                except OSError:
                    continue
            if message.startswith(GOODBYE):
                self.departed.add(int(message.split()[1]))

    def _others(self) -> List[int]:
        return [peer for peer in range(len(self.peers)) if peer != self.rank and peer not in self.departed]

    def _reach(self, peer: int, message: bytes = b"", timeout: float = PROBE_TIMEOUT_S) -> bool:
        try:
            with socket.create_connection(self.peers[peer], timeout=timeout) as connection:
                connection.sendall(message)
            return True
        except OSError:
            return False

    def lost(self) -> List[int]:
        """The ranks that neither said goodbye nor answer now."""
        others = self._others()
        with ThreadPoolExecutor(max_workers=min(32, len(others) or 1)) as pool:
            answered = list(pool.map(self._reach, others))
        # A goodbye may have arrived during the probe.
        return [peer for peer, ok in zip(others, answered) if not ok and peer not in self.departed]

    def _watch(self) -> None:
        while True:
            time.sleep(PROBE_INTERVAL_S)
            if self.leaving:
                return
            try:
                lost = self.lost()
            except RuntimeError:  # the interpreter began to exit: no new pool threads, and no more need
                return
            if lost:
                # Probe once more: a goodbye may still wait in the queue of this rank's beacon.
                time.sleep(PROBE_TIMEOUT_S)
                lost = [peer for peer in self.lost() if peer in lost]
            if lost:
                self._stop_job(lost)

    def _stop_job(self, lost: List[int]) -> None:
        names = ", ".join(f"rank {peer} ({self.peers[peer][0]})" for peer in lost)
        message = (
            f"rank {self.rank}: lost {names}: the process stopped or its host or network failed, so this rank "
            f"stops too. {self.resume_hint}"
        )
        _logger.error(message)
        print(f"error: {message}", file=sys.stderr, flush=True)
        logging.shutdown()
        # At once: the main thread waits in a collective, and MindSpore's exit handlers would wait for the lost ranks.
        os._exit(PEER_LOST_EXIT_CODE)

    def say_goodbye(self) -> None:
        if self.leaving:
            return
        self.leaving = True
        # One after the other: the interpreter is exiting, when no new thread may start.
        for peer in self._others():
            self._reach(peer, b"%s %d" % (GOODBYE, self.rank), timeout=GOODBYE_TIMEOUT_S)


def watch_peers(rank: int, resume_hint: str) -> Optional[PeerWatch]:
    """Start this rank's beacon and the watch of the others (every rank of the job calls it once,
    after the thread setup: the address exchange runs the first operator). `resume_hint` ends
    the message that names a lost rank."""
    global _active
    try:
        _active = PeerWatch(rank, os.environ.get("MS_SCHED_HOST", "127.0.0.1"), resume_hint)
    except OSError as err:  # e.g. an IPv6 scheduler address
        _logger.warning("lost ranks will not be noticed early: no beacon on the scheduler's network (%s)", err)
    return _active


def say_goodbye() -> None:
    """Tell the other ranks this one leaves (done at exit anyway; for exits that skip atexit)."""
    if _active is not None:
        _active.say_goodbye()
