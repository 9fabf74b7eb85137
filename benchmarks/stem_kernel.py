"""What the stem's 3x3 convolution kernel gains: mobilenet_v2_100 with the stem on mindcv's kernel and on
MindSpore's Conv2D (every other kernel on in both), in one process, timed in alternation.

    python benchmarks/stem_kernel.py [--resolutions 32 224] [--batch_sizes 64 32] [--steps 10]

Rows (train step and eval-mode forward, median and min of --steps timings) are appended to
benchmarks/results/stem_kernel.csv with the CPU model and its vector extensions.
"""
import argparse
import csv
import datetime
import time
from pathlib import Path
from statistics import median

import mindspore as ms
import numpy as np

from mindcv import create_loss, create_model, create_optimizer
from mindcv.engine import NetWithLoss, TrainStep
from mindcv.engine.threads import configure_threads
from mindcv.models.layers import Conv3x3

from .runner import cpu_description

RESULTS = Path(__file__).parent / "results" / "stem_kernel.csv"
COLUMNS = ("date", "model", "batch_size", "resolution", "threads", "stem", "task", "median_ms", "min_ms", "images_per_s", "steps", "cpu")


def _network(stem_kernel: bool) -> ms.nn.Cell:
    network = create_model("mobilenet_v2_100", num_classes=1000)
    for _, cell in network.cells_and_names():
        if isinstance(cell, Conv3x3):
            cell.use_custom_kernel(stem_kernel)
    return network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--resolutions", type=int, nargs="+", default=(32, 224))
    parser.add_argument("--batch_sizes", type=int, nargs="+", default=(64, 32), help="one per resolution")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    if len(args.batch_sizes) != len(args.resolutions):
        parser.error("give one batch size per resolution")
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    configure_threads(args.threads)
    rows = []
    for resolution, batch in zip(args.resolutions, args.batch_sizes):
        rng = np.random.default_rng(0)
        images = ms.Tensor(rng.standard_normal((batch, 3, resolution, resolution)).astype(np.float32))
        labels = ms.Tensor(rng.integers(0, 1000, batch).astype(np.int32))
        runs = {}
        for stem_kernel in (True, False):
            network = _network(stem_kernel)
            step = TrainStep(NetWithLoss(network, create_loss("CE")), create_optimizer(network, "momentum", lr=0.01))
            step.set_train()
            runs[("mindcv kernel" if stem_kernel else "MindSpore Conv2D", "train step")] = lambda s=step: s(images, labels)[0].asnumpy()
            evaluation = _network(stem_kernel).set_train(False)
            runs[("mindcv kernel" if stem_kernel else "MindSpore Conv2D", "eval forward")] = lambda n=evaluation: n(images).asnumpy()
        times = {key: [] for key in runs}
        for run in runs.values():  # compile and warm up
            run()
            run()
        for _ in range(args.steps):  # alternate: one timing of each per round
            for key, run in runs.items():
                start = time.perf_counter()
                run()
                times[key].append(time.perf_counter() - start)
        for (stem, task), values in times.items():
            row = {"date": datetime.datetime.now().isoformat(timespec="seconds"), "model": "mobilenet_v2_100",
                   "batch_size": batch, "resolution": resolution, "threads": args.threads, "stem": stem, "task": task,
                   "median_ms": round(median(values) * 1e3, 2), "min_ms": round(min(values) * 1e3, 2),
                   "images_per_s": round(batch / median(values), 1), "steps": len(values), "cpu": cpu_description()}
            rows.append(row)
            print(row, flush=True)
    new = not RESULTS.is_file()
    with open(RESULTS, "a", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        if new:
            writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
