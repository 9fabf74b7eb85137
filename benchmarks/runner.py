"""Run benchmark workers side by side and turn their timings into result rows.

Every implementation of one configuration runs in its own fresh process (so its
peak resident memory is its own); the processes build and warm up together, then
take turns timing `steps` steps for `repeats` rounds, the order rotating each
round, so a change of machine load hits them all alike.
"""
import datetime
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Dict, List, Optional, Sequence

from .protocol import MARKER

REPO = Path(__file__).resolve().parent.parent
MINDCV030 = "mindcv-0.3.0"
# mindcv with its C++ kernels switched off: what the kernels gain, in the same run.
MINDCV_MSOPS = "mindcv-msops"
MINDCV030_REQUIREMENTS = ("mindspore==2.10.0", "numpy<2", "mindcv==0.3.0")


class WorkerError(RuntimeError):
    """A worker process died or answered out of turn."""


@dataclass
class Config:
    """One measured case: what runs (task) on which network, batch and resolution."""

    task: str
    model: str
    batch_size: int
    resolution: int
    extra: Sequence[str] = ()  # further worker arguments (e.g. --folder for the data task)


@dataclass
class Measurement:
    impl: str
    setup_s: float = 0.0
    times: List[float] = field(default_factory=list)
    peak_rss_mb: float = float("nan")
    error: str = ""


def worker_command(impl: str, venv: Optional[Path]) -> List[str]:
    """argv prefix of the worker for `impl`; MindCV 0.3.0 runs its own venv's python on a script."""
    if impl == MINDCV030:
        return [str(venv / "bin" / "python"), str(REPO / "benchmarks" / "peer_mindcv.py")]
    return [sys.executable, "-m", "benchmarks.worker", "--impl", impl]


class Worker:
    """One implementation's process, spoken to through benchmarks/protocol.py."""

    def __init__(self, impl: str, command: List[str], log_dir: Path) -> None:
        self.impl = impl
        self.log_path = log_dir / f"{impl}.log"
        env = dict(os.environ, GLOG_v="3")
        env.pop("PYTHONPATH", None)  # the 0.3.0 venv must not see this repository's mindcv
        # The 0.3.0 peer runs from a scratch folder so the repository's mindcv is not importable from its cwd.
        cwd = REPO if impl != MINDCV030 else log_dir
        with open(self.log_path, "w") as log:
            self.process = subprocess.Popen(
                command, cwd=cwd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True
            )

    def _receive(self) -> dict:
        for line in self.process.stdout:
            if line.startswith(MARKER):
                return json.loads(line[len(MARKER):])
        self.process.wait()
        tail = self.log_path.read_text(errors="replace").strip().splitlines()[-15:]
        raise WorkerError(f"{self.impl} worker exited with code {self.process.returncode}:\n" + "\n".join(tail))

    def _send(self, command: str) -> None:
        try:
            self.process.stdin.write(command + "\n")
            self.process.stdin.flush()
        except BrokenPipeError:
            pass  # the process is gone; _receive reports its log

    def ready(self) -> float:
        return self._receive()["setup_s"]

    def run(self, steps: int) -> List[float]:
        self._send(f"run {steps}")
        return self._receive()["times"]

    def finish(self) -> float:
        self._send("quit")
        peak = self._receive()["peak_rss_mb"]
        self.process.wait(timeout=60)
        return peak

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def measure(config: Config, impls: Sequence[str], steps: int, repeats: int, warmup: int,
            venv: Optional[Path] = None, worker_args: Dict[str, Sequence[str]] = None) -> Dict[str, Measurement]:
    """Time `steps` x `repeats` steps of each implementation, alternating; failures are recorded, not raised."""
    arguments = ["--task", config.task, "--model", config.model, "--batch_size", str(config.batch_size),
                 "--resolution", str(config.resolution), "--warmup", str(warmup), *config.extra]
    results = {impl: Measurement(impl) for impl in impls}
    workers: List[Worker] = []
    with tempfile.TemporaryDirectory(prefix="mindcv-bench-") as log_dir:
        try:
            for impl in impls:
                extra = list((worker_args or {}).get(impl, ()))
                workers.append(Worker(impl, worker_command(impl, venv) + arguments + extra, Path(log_dir)))
            alive = []
            for worker in workers:
                try:
                    results[worker.impl].setup_s = worker.ready()
                    alive.append(worker)
                except WorkerError as err:
                    results[worker.impl].error = str(err)
            for round_index in range(repeats):
                shift = round_index % max(1, len(alive))
                for worker in alive[shift:] + alive[:shift]:
                    try:
                        results[worker.impl].times += worker.run(steps)
                    except WorkerError as err:  # a dead worker leaves the others running
                        results[worker.impl].error = str(err)
                alive = [w for w in alive if not results[w.impl].error]
            for worker in alive:
                try:
                    results[worker.impl].peak_rss_mb = worker.finish()
                except WorkerError as err:
                    results[worker.impl].error = str(err)
        finally:
            for worker in workers:
                worker.kill()
    return results


def bind_to_cores(count: int) -> List[int]:
    """Bind this process to the first `count` cores it may run on (all when there are fewer); the
    workers it starts inherit the binding, so every framework's threads share the same cores."""
    cores = sorted(os.sched_getaffinity(0))[:count]
    os.sched_setaffinity(0, cores)
    return cores


def load_average() -> float:
    return os.getloadavg()[0]


# The vector extensions that decide float and int8 kernel speed (int8: VNNI dot products, AMX tiles).
VECTOR_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def cpu_description() -> str:
    """The CPU model and which of VECTOR_FLAGS it has, from /proc/cpuinfo ("?" where that is missing)."""
    model, flags = "?", set()
    if os.path.isfile("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    return f"{model}; {' '.join(f for f in VECTOR_FLAGS if f in flags) or 'none of ' + ' '.join(VECTOR_FLAGS)}"


def result_row(suite: str, config: Config, measurement: Measurement, load_before: float, load_after: float,
               images_per_step: int) -> dict:
    """One CSV row: images/s for throughput, milliseconds for batch-1 inference latency."""
    row = {
        "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "suite": suite,
        "model": config.model,
        "batch_size": config.batch_size,
        "resolution": config.resolution,
        "impl": measurement.impl,
        "metric": "",
        "value": "",
        "median_step_ms": "",
        "min_step_ms": "",
        "steps": len(measurement.times),
        "setup_s": round(measurement.setup_s, 1),
        "peak_rss_mb": round(measurement.peak_rss_mb, 1),
        "load_1min_before": round(load_before, 2),
        "load_1min_after": round(load_after, 2),
        "error": measurement.error.splitlines()[0] if measurement.error else "",
        "cpu": cpu_description(),
    }
    if measurement.times:
        step = median(measurement.times)
        latency = suite == "infer" and config.batch_size == 1
        row.update(
            metric="latency_ms" if latency else "images_per_s",
            value=round(step * 1000, 2) if latency else round(images_per_step / step, 2),
            median_step_ms=round(step * 1000, 2),
            min_step_ms=round(min(measurement.times) * 1000, 2),
        )
    return row
