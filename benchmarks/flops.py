"""Achieved GFLOP/s of the train step against the CPU's fp32 peak.

    python -m benchmarks.flops [--train_csv benchmarks/results/train.csv] [--out benchmarks/results/flops.csv]

The work of one train step per image is counted on the PyTorch replica of the network
(benchmarks/torch_mobilenetv2.py, the same layers as mindcv's) with
torch.utils.flop_counter.FlopCounterMode, forward and backward; it counts convolutions and
matrix products, which are nearly all of MobileNetV2's arithmetic (BatchNorm, ReLU6, the
loss and the optimizer are a few elementwise passes and are left out). The peak is
cores x clock x fp32 FLOPs per cycle (the vector width times 2 for a fused multiply-add
times 2 FMA units: an assumption, one-FMA-unit parts have half); the practical peak is a
large float32 matrix product in PyTorch on the same threads. Every train row of `train.csv`
becomes a row of `flops.csv`: images/s x FLOPs per image = achieved GFLOP/s, and its share
of both peaks.
"""
import argparse
import csv
import datetime
import os
import re
import time
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

RESULTS = Path(__file__).parent / "results"
COLUMNS = (
    "date", "model", "batch_size", "resolution", "impl", "images_per_s", "gflop_per_image", "achieved_gflops",
    "threads", "clock_mhz", "clock_source", "fp32_flops_per_cycle", "vector_isa", "peak_gflops", "matmul_gflops",
    "percent_of_peak", "percent_of_matmul", "cpu", "num_classes",
)
# fp32 FLOPs per cycle and core: lanes x 2 (multiply-add) x 2 FMA units, for the widest extension present.
FLOPS_PER_CYCLE = (("avx512f", 64), ("avx2", 32), ("sse2", 16))
MODEL_NAME = re.compile(r"mobilenet_v2_(\d{3})$")
MATMUL_SIZE = 2048


def _cpuinfo() -> Dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    fields: Dict[str, str] = {}
    if os.path.isfile("/proc/cpuinfo"):
        for line in open("/proc/cpuinfo"):
            if not line.strip():
                break
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
    return fields


def clock_mhz() -> Tuple[float, str]:
    """(the core clock in MHz, where it came from): cpufreq's maximum when the kernel exposes it,
    else /proc/cpuinfo's current "cpu MHz" (virtual machines often show only that)."""
    limit = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
    if limit.is_file():
        return int(limit.read_text()) / 1000, "cpuinfo_max_freq"
    mhz = _cpuinfo().get("cpu MHz")
    return (float(mhz), "/proc/cpuinfo cpu MHz") if mhz else (float("nan"), "unknown")


def fp32_flops_per_cycle() -> Tuple[int, str]:
    """(fp32 FLOPs per cycle and core, the extension that sets it), assuming 2 FMA units."""
    flags = set(_cpuinfo().get("flags", "").split())
    return next(((flops, isa) for isa, flops in FLOPS_PER_CYCLE if isa in flags), (8, "scalar"))


def peak_gflops(threads: int) -> float:
    """cores x clock x FLOPs per cycle, on the cores `threads` threads can use at once."""
    cores = min(threads, len(os.sched_getaffinity(0)))
    return cores * clock_mhz()[0] / 1000 * fp32_flops_per_cycle()[0]


def _conv_backward_flops(grad_out_shape, x_shape, w_shape, _bias, _stride, _padding, _dilation, transposed,
                         _output_padding, _groups, output_mask, out_shape=None, **kwargs) -> int:
    """FLOPs of a convolution's backward: each gradient asked for takes the multiply-adds of the forward pass.

    Replaces torch's formula, which counts a grouped convolution's weight gradient as a dense one
    (C times too many for a depthwise convolution of C channels, 19x the forward in MobileNetV2)."""
    from torch.utils.flop_counter import conv_flop_count

    forward = conv_flop_count(list(x_shape), list(w_shape), list(grad_out_shape), transposed)
    return forward * (int(bool(output_mask[0])) + int(bool(output_mask[1])))


def train_gflop_per_image(model: str, resolution: int, num_classes: int = 1000) -> float:
    """GFLOPs of one image's forward and backward pass of `model` (mobilenet_v2_XXX) at `resolution`."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from .protocol import model_width
    from .torch_mobilenetv2 import TorchMobileNetV2

    torch.manual_seed(0)
    network = TorchMobileNetV2(model_width(model), num_classes).train()
    batch = 2  # BatchNorm in training mode needs more than one value per channel; the count is linear in the batch
    images, labels = torch.randn(batch, 3, resolution, resolution), torch.randint(0, num_classes, (batch,))
    with FlopCounterMode(display=False, custom_mapping={torch.ops.aten.convolution_backward: _conv_backward_flops}) as counter:
        torch.nn.functional.cross_entropy(network(images), labels).backward()
    return counter.get_total_flops() / batch / 1e9


def matmul_gflops(threads: int, size: int = MATMUL_SIZE, repeats: int = 10) -> float:
    """The best GFLOP/s of a `size`^3 float32 matrix product in PyTorch on `threads` threads."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        a @ b  # warm-up: oneDNN/MKL pick their kernels on first use
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
    finally:
        torch.set_num_threads(previous)
    return 2 * size**3 / best / 1e9


def flops_rows(train_rows: Sequence[dict], default_threads: int) -> List[dict]:
    """One row per measured train row of a mobilenet_v2_XXX model: achieved GFLOP/s and its share of the peaks."""
    measured = [row for row in train_rows if row.get("value") and MODEL_NAME.match(row["model"])]
    def key(row: dict) -> tuple:
        return row["model"], int(row["resolution"]), int(row.get("num_classes") or 1000)

    work = {key(r): train_gflop_per_image(*key(r)) for r in measured}
    mhz, source = clock_mhz()
    per_cycle, isa = fp32_flops_per_cycle()
    matmul: Dict[int, float] = {}
    rows = []
    for row in measured:
        threads = int(row.get("threads") or default_threads)
        if threads not in matmul:
            matmul[threads] = matmul_gflops(threads)
        gflop = work[key(row)]
        achieved = float(row["value"]) * gflop
        peak = peak_gflops(threads)
        rows.append({
            "date": datetime.datetime.now().isoformat(timespec="seconds"), "model": row["model"],
            "batch_size": row["batch_size"], "resolution": row["resolution"], "impl": row["impl"],
            "images_per_s": row["value"], "gflop_per_image": round(gflop, 4), "achieved_gflops": round(achieved, 2),
            "threads": threads, "clock_mhz": round(mhz, 1), "clock_source": source, "fp32_flops_per_cycle": per_cycle,
            "vector_isa": isa, "peak_gflops": round(peak, 1), "matmul_gflops": round(matmul[threads], 1),
            "percent_of_peak": round(100 * achieved / peak, 2), "percent_of_matmul": round(100 * achieved / matmul[threads], 2),
            "cpu": row.get("cpu", ""), "num_classes": key(row)[2],
        })
    return rows


def write_flops_csv(train_rows: Sequence[dict], path: Path, default_threads: int) -> Optional[List[dict]]:
    """`flops_rows` written to `path`; None (with a note) where PyTorch, which counts the FLOPs, is missing."""
    try:
        import torch  # noqa: F401
    except ImportError:
        print("note: GFLOP/s skipped (PyTorch counts the FLOPs; pip install torch)")
        return None
    rows = flops_rows(train_rows, default_threads)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def main(argv: Optional[Sequence[str]] = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train_csv", type=Path, default=RESULTS / "train.csv", help="the train suite's results")
    parser.add_argument("--out", type=Path, default=RESULTS / "flops.csv")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="threads of rows that do not record theirs (default: the cores this process may use)")
    args = parser.parse_args(argv)
    with open(args.train_csv, newline="") as f:
        rows = write_flops_csv(list(csv.DictReader(f)), args.out, args.threads)
    for row in rows or ():
        print(f"{row['model']} batch {row['batch_size']} at {row['resolution']:>3} {row['impl']:<14} "
              f"{row['achieved_gflops']:>7} GFLOP/s = {row['percent_of_peak']}% of {row['peak_gflops']} (peak), "
              f"{row['percent_of_matmul']}% of {row['matmul_gflops']} (matmul)")


if __name__ == "__main__":
    main()
