"""mindcv's CPU kernels layer by layer: every depthwise and BatchNorm layer of mobilenet_v2_100.

    python -m benchmarks.kernel_layers --resolution 32 --batch_size 64 --baseline 5f6fc3b

Calls the compiled entry points directly (ctypes, the AOT calling convention), on the shapes
of the network at --resolution and --batch_size (width 1.0), for: depthwise forward, input
and weight gradient; BatchNorm (+ ReLU6 where the network has it) training forward, backward
and inference. With --baseline COMMIT the kernel sources of that commit are compiled the same
way and both libraries alternate on each layer, so machine drift hits both alike. Appends one
row per layer, pass and library, and a total per pass, to benchmarks/results/kernel_layers.csv.
"""
import argparse
import csv
import ctypes
import datetime
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

from mindcv.kernels import build
from mindcv.models.mobilenetv2 import HEAD_CHANNELS, INVERTED_RESIDUAL_SETTING, STEM_CHANNELS

from .runner import cpu_description

REPO = Path(__file__).resolve().parents[1]
SOURCES = {"depthwise": "depthwise_conv.cc", "batchnorm": "batchnorm_act.cc"}
COLUMNS = ("date", "cpu", "threads", "resolution", "batch_size", "kernel", "layer", "pass", "library", "median_ms",
           "min_ms", "samples")


def layer_shapes(resolution: int) -> Tuple[List[tuple], List[tuple]]:
    """(depthwise layers as (channels, input size, stride), BatchNorm layers as (channels, size, relu6))."""
    size = (resolution + 1) // 2  # after the stem
    depthwise, norms = [], [(STEM_CHANNELS, size, True)]
    channels = STEM_CHANNELS
    for expansion, out_channels, repeats, first_stride in INVERTED_RESIDUAL_SETTING:
        for index in range(repeats):
            stride = first_stride if index == 0 else 1
            hidden = channels * expansion
            out_size = (size + 1) // 2 if stride == 2 else size
            if expansion != 1:
                norms.append((hidden, size, True))
            depthwise.append((hidden, size, stride))
            norms += [(hidden, out_size, True), (out_channels, out_size, False)]
            channels, size = out_channels, out_size
    norms.append((HEAD_CHANNELS, size, True))
    return depthwise, norms


def baseline_sources(commit: str, folder: Path) -> Path:
    """The kernel sources and headers of `commit`, written to `folder`."""
    listing = subprocess.run(["git", "ls-tree", "--name-only", commit, "mindcv/kernels/"], cwd=REPO, check=True,
                             capture_output=True, text=True).stdout.split()
    for path in listing:
        if path.endswith((".cc", ".h")):
            text = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=REPO, check=True, capture_output=True).stdout
            (folder / Path(path).name).write_bytes(text)
    return folder


class EntryPoint:
    """One exported kernel function bound to its arrays (inputs then outputs)."""

    def __init__(self, library: ctypes.CDLL, name: str, arrays: Sequence[np.ndarray]) -> None:
        count = len(arrays)
        self._arrays = arrays
        self._params = (ctypes.c_void_p * count)(*[a.ctypes.data for a in arrays])
        self._dims = [(ctypes.c_int64 * a.ndim)(*a.shape) for a in arrays]
        self._shapes = (ctypes.POINTER(ctypes.c_int64) * count)(*[ctypes.cast(d, ctypes.POINTER(ctypes.c_int64)) for d in self._dims])
        self._types = (ctypes.c_char_p * count)(*[b"float32"] * count)
        self._ndims = (ctypes.c_int * count)(*[a.ndim for a in arrays])
        self._function = getattr(library, name)
        self._count = count

    def __call__(self) -> None:
        if self._function(self._count, self._params, self._ndims, self._shapes, self._types, None, None) != 0:
            raise RuntimeError("kernel refused its arguments")


def depthwise_passes(library: ctypes.CDLL, batch: int, layer: tuple, rng: np.random.Generator) -> Dict[str, EntryPoint]:
    channels, size, stride = layer
    out = (size + 1) // 2 if stride == 2 else size
    x = rng.standard_normal((batch, channels, size, size)).astype(np.float32)
    weight = rng.standard_normal((channels, 1, 3, 3)).astype(np.float32)
    dy = rng.standard_normal((batch, channels, out, out)).astype(np.float32)
    return {
        "forward": EntryPoint(library, f"DepthwiseForward{stride}", [x, weight, np.empty_like(dy)]),
        "input gradient": EntryPoint(library, f"DepthwiseBackwardInput{stride}", [x, weight, dy, np.empty_like(x)]),
        "weight gradient": EntryPoint(library, f"DepthwiseBackwardWeight{stride}", [x, weight, dy, np.empty_like(weight)]),
    }


def batchnorm_passes(library: ctypes.CDLL, batch: int, layer: tuple, rng: np.random.Generator) -> Dict[str, EntryPoint]:
    channels, size, relu6 = layer
    name = "BatchNormReLU6" if relu6 else "BatchNorm"
    x = (rng.standard_normal((batch, channels, size, size)) * 2 + 1).astype(np.float32)
    gamma, beta, moving_mean, moving_var = (rng.uniform(0.5, 1.5, channels).astype(np.float32) for _ in range(4))
    factors = np.array([1e-5, 0.1], np.float32)
    mean, invstd, new_mean, new_var = (np.empty(channels, np.float32) for _ in range(4))
    dy = rng.standard_normal(x.shape).astype(np.float32)
    forward = EntryPoint(library, f"{name}Forward",
                         [x, gamma, beta, moving_mean, moving_var, factors, np.empty_like(x), mean, invstd, new_mean, new_var])
    forward()  # the batch statistics the backward pass reads
    return {
        "forward": forward,
        "backward": EntryPoint(library, f"{name}Backward", [x, gamma, beta, mean, invstd, dy, np.empty_like(x),
                                                            np.empty(channels, np.float32), np.empty(channels, np.float32)]),
        "inference": EntryPoint(library, f"{name}Inference", [x, gamma, beta, moving_mean, moving_var, factors, np.empty_like(x)]),
    }


def time_alternating(calls: Dict[str, Callable[[], None]], rounds: int) -> Dict[str, List[float]]:
    """Milliseconds of each call, the calls alternating round by round (one warm-up call each)."""
    for call in calls.values():
        call()
    samples: Dict[str, List[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return samples


def measure(libraries: Dict[str, ctypes.CDLL], kernel: str, resolution: int, batch: int, rounds: int) -> List[dict]:
    depthwise, norms = layer_shapes(resolution)
    layers, passes_of = (depthwise, depthwise_passes) if kernel == "depthwise" else (norms, batchnorm_passes)
    rows, totals = [], {}
    for layer in layers:
        passes = {label: passes_of(library, batch, layer, np.random.default_rng(0)) for label, library in libraries.items()}
        for pass_name in next(iter(passes.values())):
            samples = time_alternating({label: passes[label][pass_name] for label in libraries}, rounds)
            for label, values in samples.items():
                median = statistics.median(values)
                totals[(pass_name, label)] = totals.get((pass_name, label), 0.0) + median
                rows.append({"kernel": kernel, "layer": "x".join(map(str, layer)), "pass": pass_name, "library": label,
                             "median_ms": round(median, 4), "min_ms": round(min(values), 4), "samples": len(values)})
    rows += [{"kernel": kernel, "layer": "all (sum of medians)", "pass": pass_name, "library": label,
              "median_ms": round(total, 3), "min_ms": "", "samples": rounds} for (pass_name, label), total in totals.items()]
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolution", type=int, default=32)
    parser.add_argument("--batch_size", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=30, help="timed calls of each pass and library")
    parser.add_argument("--baseline", help="a git commit whose kernel sources are measured beside the current ones")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "kernel_layers.csv")
    args = parser.parse_args(argv)
    if min(args.resolution, args.batch_size, args.rounds) < 1:
        parser.error("--resolution, --batch_size and --rounds must be positive")
    with tempfile.TemporaryDirectory(prefix="mindcv-kernel-layers-") as scratch:
        libraries = {"current": {kernel: build.build_library(source) for kernel, source in SOURCES.items()}}
        if any(path is None for path in libraries["current"].values()):
            print("error: the kernels cannot be built here (see the warning above)", file=sys.stderr)
            return 2
        if args.baseline:
            try:
                folder = baseline_sources(args.baseline, Path(scratch))
                baseline = {kernel: Path(scratch) / f"{kernel}.so" for kernel in SOURCES}
                for kernel, source in SOURCES.items():  # as build.py compiles the current ones
                    build.compile_source(build._compiler(), build.target_arch(), folder / source, baseline[kernel])
                libraries[args.baseline] = baseline
            except subprocess.CalledProcessError as err:
                print(f"error: --baseline {args.baseline}: {str(err.stderr or err).strip()[-300:]}", file=sys.stderr)
                return 2
        stamp = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "cpu": cpu_description(),
                 "threads": os.environ.get("MINDCV_NUM_THREADS") or len(os.sched_getaffinity(0)),
                 "resolution": args.resolution, "batch_size": args.batch_size}
        rows = []
        for kernel in SOURCES:
            loaded = {label: ctypes.CDLL(str(paths[kernel])) for label, paths in libraries.items()}
            try:
                rows += [{**stamp, **row} for row in measure(loaded, kernel, args.resolution, args.batch_size, args.rounds)]
            except (AttributeError, RuntimeError) as err:  # a baseline with other entry points
                print(f"error: {kernel} kernel: {err}", file=sys.stderr)
                return 2
    new_file = not args.out.is_file()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with open(args.out, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new_file:
            writer.writeheader()
        writer.writerows(rows)
    for row in rows:
        if row["layer"].startswith("all"):
            print(f"{row['kernel']:<10} {row['pass']:<16} {row['library']:<10} {row['median_ms']:>9} ms")
    print(f"{len(rows)} rows appended to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
