"""Two hosts on one machine: the root network namespace and one the test creates, joined by a veth
pair with private addresses. msrun starts its scheduler only where --master_addr is an address of
the host, so the launcher inside the namespace acts as a second host (on loopback alone both would
start one). Needs root and iproute2's `ip`; both exist in CI, so a missing one fails the test."""
import os
import shutil
import subprocess
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, List, Optional


@dataclass(frozen=True)
class TwoHosts:
    namespace: str
    first: str  # the root namespace's address: host A, where the scheduler runs
    second: str  # the namespace's address: host B

    def command(self, host: int, command: List[str]) -> List[str]:
        """`command` run on host 0 (A) or 1 (B)."""
        return command if host == 0 else ["ip", "netns", "exec", self.namespace, *command]

    def write_remote_shell(self, path: Path) -> Path:
        """A stand-in for ssh that mpirun can use (`--mca plm_rsh_agent PATH`): `PATH HOST COMMAND...`
        runs COMMAND on host B when HOST is B's address."""
        path.write_text(
            "#!/bin/sh\n"
            f'[ "$1" = "{self.second}" ] || {{ echo "unknown host $1" >&2; exit 1; }}\n'
            f'shift\nexec ip netns exec {self.namespace} sh -c "$*"\n'
        )
        path.chmod(0o755)
        return path


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


@contextmanager
def two_hosts() -> Iterator[TwoHosts]:
    assert os.geteuid() == 0, "the two-host tests need root (to create a network namespace)"
    assert shutil.which("ip"), "the two-host tests need iproute2's `ip`"
    tag = os.getpid() % 100000
    namespace, veth_a, veth_b = f"mindcv{tag}", f"mcv{tag}a", f"mcv{tag}b"
    # A /30 of 10.0.0.0/8 picked by the pid, so concurrent test sessions do not collide.
    prefix = f"10.{200 + tag % 50}.{tag // 50 % 250}"
    first, second = f"{prefix}.1", f"{prefix}.2"
    try:
        _ip("netns", "add", namespace)
        _ip("link", "add", veth_a, "type", "veth", "peer", "name", veth_b)
        _ip("link", "set", veth_b, "netns", namespace)
        _ip("addr", "add", f"{first}/30", "dev", veth_a)
        _ip("link", "set", veth_a, "up")
        _ip("netns", "exec", namespace, "ip", "addr", "add", f"{second}/30", "dev", veth_b)
        _ip("netns", "exec", namespace, "ip", "link", "set", veth_b, "up")
        _ip("netns", "exec", namespace, "ip", "link", "set", "lo", "up")
        yield TwoHosts(namespace, first, second)
    finally:
        # Deleting one end removes the pair; deleting the namespace needs no process left in it.
        subprocess.run(["ip", "link", "del", veth_a], capture_output=True)
        subprocess.run(["ip", "netns", "del", namespace], capture_output=True)


def processes_of(marker: str) -> List[int]:
    """Pids of the processes whose command line contains `marker` (a folder only this test uses)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and entry.name != str(os.getpid()):
            try:
                if marker in (entry / "cmdline").read_bytes().decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:  # ended meanwhile
                pass
    return found


def environment_of(pid: int) -> dict:
    try:
        pairs = (entry.split("=", 1) for entry in (Path("/proc") / str(pid) / "environ").read_bytes().decode().split("\0") if "=" in entry)
        return dict(pairs)
    except OSError:
        return {}


def worker_pid(marker: str, rank: int) -> Optional[int]:
    """The pid of the msrun worker of `rank` among the processes of `marker`."""
    for pid in processes_of(marker):
        env = environment_of(pid)
        if env.get("MS_ROLE") == "MS_WORKER" and env.get("RANK_ID") == str(rank):
            return pid
    return None
