"""What the exact-resume and preemption machinery costs per training step.

    python benchmarks/step_overhead.py                    # single process: readback, dropout key
    msrun --worker_num=2 --local_worker_num=2 --master_port=8123 --join=True \\
        benchmarks/step_overhead.py --distributed         # the stop-flag AllReduce, 2 processes

Measures, in graph mode on mobilenet_v2_100 at 32 px, batch 32:
- a step that reads its loss and finite flag back at once (what the trainer does) against one
  whose outputs are read back every 20 steps (the saving a deferred readback would bring);
- the host cost of `seed_dropout(step_seed(...))`, run before every step;
- with --distributed, the AllReduce of the stop flags `StopRequest.agreed()` runs after every step.
A and B alternate in blocks, so load changes hit both alike; medians of the blocks.
Appends rows to benchmarks/results/step_overhead.csv.
"""
import argparse
import csv
import datetime
import os
import statistics
import time
from pathlib import Path

import mindspore as ms
import numpy as np

from mindcv.engine import builders
from mindcv.engine.preemption import StopRequest
from mindcv.engine.train_step import NetWithLoss, TrainStep
from mindcv.loss import create_loss
from mindcv.models import create_model, seed_dropout
from mindcv.optim import create_optimizer

RESULTS = Path(__file__).parent / "results" / "step_overhead.csv"
FIELDS = ("date", "machine", "load_1min", "measure", "ms_per_step", "blocks", "steps_per_block")
READ_EVERY = 20


def machine() -> str:
    info = open("/proc/cpuinfo").read().splitlines()
    model = next((line.split(":", 1)[1].strip() for line in info if line.startswith("model name")), "?")
    flags = next((line.split(":", 1)[1].split() for line in info if line.startswith("flags")), [])
    vector = " ".join(flag for flag in ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16") if flag in flags)
    return f"{os.cpu_count()} cores, {model}, {vector}"


def train_step(image_size: int, batch_size: int) -> tuple:
    network = create_model("mobilenet_v2_100", num_classes=10)
    optimizer = create_optimizer(network, opt="momentum", lr=[0.01] * 100000)
    step = TrainStep(NetWithLoss(network, create_loss("CE")), optimizer)
    step.set_train(True)
    images = ms.Tensor(np.random.default_rng(0).random((batch_size, 3, image_size, image_size), np.float32))
    labels = ms.Tensor(np.arange(batch_size, dtype=np.int32) % 10)
    return step, images, labels


def timed(block, steps: int) -> float:
    start = time.perf_counter()
    block(steps)
    return (time.perf_counter() - start) / steps * 1e3


def single_process(blocks: int, steps: int) -> list:
    step, images, labels = train_step(32, 32)
    for _ in range(5):
        step(images, labels)

    def read_each(count: int) -> None:
        for _ in range(count):
            loss, finite, _ = step(images, labels)
            float(loss.asnumpy()), bool(finite.asnumpy())

    def read_later(count: int) -> None:
        outputs = []
        for index in range(count):
            outputs.append(step(images, labels)[:2])
            if (index + 1) % READ_EVERY == 0:
                [(float(loss.asnumpy()), bool(finite.asnumpy())) for loss, finite in outputs]
                outputs = []

    def dropout_key(count: int) -> None:
        for index in range(count):
            seed_dropout(builders.step_seed(42, 3, index))

    times = {"read each": [], "read later": [], "key": []}
    for _ in range(blocks):
        times["read each"].append(timed(read_each, steps))
        times["read later"].append(timed(read_later, steps))
        times["key"].append(timed(dropout_key, steps * 10))
    each, later = statistics.median(times["read each"]), statistics.median(times["read later"])
    return [
        ("train step, loss and finite read back every step", each),
        (f"train step, outputs read back every {READ_EVERY} steps", later),
        ("saving of the deferred readback", each - later),
        ("seed_dropout(step_seed(...)) on the host", statistics.median(times["key"])),
    ]


def distributed(blocks: int, steps: int) -> list:
    from mindspore.communication import init

    ms.set_context(mode=ms.GRAPH_MODE)
    init()
    stop = StopRequest(world=2)
    for _ in range(20):
        stop.agreed()
    samples = [timed(lambda count: [stop.agreed() for _ in range(count)], steps * 10) for _ in range(blocks)]
    return [("stop-flag AllReduce (2 processes on this host)", statistics.median(samples))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--distributed", action="store_true", help="measure the stop-flag AllReduce (launch with msrun)")
    parser.add_argument("--blocks", type=int, default=5)
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE)
    rows = distributed(args.blocks, args.steps) if args.distributed else single_process(args.blocks, args.steps)
    if args.distributed and int(os.environ.get("RANK_ID", "0")) != 0:
        return
    record = {"date": datetime.datetime.now().isoformat(timespec="minutes"), "machine": machine(),
              "load_1min": f"{os.getloadavg()[0]:.2f}", "blocks": args.blocks, "steps_per_block": args.steps}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    new_file = not args.out.is_file()
    with open(args.out, "a", newline="") as f:
        writer = csv.DictWriter(f, FIELDS)
        if new_file:
            writer.writeheader()
        for measure, value in rows:
            writer.writerow({**record, "measure": measure, "ms_per_step": f"{value:.3f}"})
            print(f"{measure:<60} {value:8.3f} ms")


if __name__ == "__main__":
    main()
