"""The benchmark worker protocol: one process per implementation and configuration.

Standard library only: the MindCV 0.3.0 peer imports this file inside its own
virtual environment. A worker builds its step (compiling, warming up), reports
`ready`, then waits on stdin:

    run N   time N steps (an epoch for the data and e2e tasks), answer {"times": [seconds, ...]}
    quit    answer {"peak_rss_mb": ...} (the process's resident high-water mark) and exit

Answers are single stdout lines starting with MARKER, so library chatter on stdout
is ignored. The parent alternates `run` between the workers of one configuration,
so load drift on a shared machine hits every implementation alike.
"""
import argparse
import json
import os
import sys
import time
from typing import Callable

MARKER = "@@bench "
TASKS = ("train", "infer", "data", "e2e")


def worker_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--task", choices=TASKS, required=True)
    parser.add_argument("--model", default="mobilenet_v2_100")
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--num_classes", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps after building")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="intra-op threads of the framework (default: the cores this process may use)")
    parser.add_argument("--jit_level", default="O0", help="MindSpore workers: graph-mode jit level")
    parser.add_argument("--folder", help="data and e2e tasks: ImageNet-layout root with a train/ split")
    parser.add_argument("--workers", type=int, default=2, help="data and e2e tasks: pipeline threads or processes")
    parser.add_argument("--scale", type=float, nargs=2, default=(0.08, 1.0), help="e2e task: random resized crop area")
    parser.add_argument("--ratio", type=float, nargs=2, default=(0.75, 1.333), help="e2e task: random resized crop aspect")
    return parser


def model_width(model: str) -> float:
    """mobilenet_v2_075 -> 0.75."""
    return int(model.split("_")[2]) / 100


def peak_rss_mb() -> float:
    """VmHWM: the most resident memory this process ever held."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def answer(payload: dict) -> None:
    sys.stdout.write(MARKER + json.dumps(payload) + "\n")
    sys.stdout.flush()


def serve(build: Callable[[], Callable[[], None]], warmup: int) -> None:
    """Build the step, warm it up, then answer the parent's commands until `quit`."""
    start = time.perf_counter()
    step = build()
    for _ in range(warmup):
        step()
    answer({"ready": True, "setup_s": time.perf_counter() - start})
    for line in sys.stdin:
        command = line.split()
        if command and command[0] == "run":
            times = []
            for _ in range(int(command[1])):
                begin = time.perf_counter()
                step()
                times.append(time.perf_counter() - begin)
            answer({"times": times})
        elif command == ["quit"]:
            break
    answer({"peak_rss_mb": peak_rss_mb()})
    sys.stdout.flush()
    # Skip interpreter teardown: MindSpore's cell destructors print errors at exit.
    os._exit(0)
