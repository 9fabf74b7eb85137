"""Benchmark mindcv against its peers on this machine, side by side in one run.

    python benchmark.py --suite all --mindcv030-venv /tmp/mindcv030   # everything (over an hour on 2 busy cores)
    python benchmark.py --suite train --models mobilenet_v2_100 --batch_sizes 8 32
    python benchmark.py --suite train --quick --no-peers --out /tmp/bench   # smoke run

Suites: train (full graph-mode train step with optimizer), infer (network, exported
MINDIR and ONNX; batch 1 is latency), data (training pipeline), e2e (train.py on the
embedded dataset, 1 process and 2 under msrun), tta (time to accuracy: train.py on
benchmarks/tta_fashion_mnist.yaml against a plain PyTorch loop, 4 epochs on a 10,000-image
Fashion-MNIST split built from --fashion_mnist). Peers: PyTorch NCHW and channels_last,
PIL for data, MindCV 0.3.0 when --mindcv030-venv is given. Every framework runs --threads
threads on the same cores, every MindSpore one at --jit_level. Results: one CSV per suite
(and flops.csv: GFLOP/s of the train rows) and summary.md in --out. See benchmarks/README.md.
"""
import argparse
import os
import sys
from pathlib import Path
from typing import Optional, Sequence

from benchmarks import report, runner, suites, tta

SUITES = ("train", "infer", "data", "e2e", "tta")


def _case(text: str) -> tuple:
    """'32x64' -> (32, 64): resolution and batch size."""
    resolution, _, batch = text.partition("x")
    if not (resolution.isdigit() and batch.isdigit() and int(resolution) > 0 and int(batch) > 0):
        raise argparse.ArgumentTypeError(f"{text!r}: expected RESOLUTIONxBATCH, e.g. 32x64")
    return int(resolution), int(batch)


def parse_args(argv: Optional[Sequence[str]] = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--suite", choices=(*SUITES, "all"), default="all")
    parser.add_argument("--models", nargs="+", help="default: mobilenet_v2_075/100/140 (see suites.model_plan)")
    parser.add_argument("--batch_sizes", nargs="+", type=int, help="default: 32, plus 1 and 8 for mobilenet_v2_100")
    parser.add_argument("--resolutions", nargs="+", type=int, help="default: 224, plus 96 and 160 for mobilenet_v2_100")
    parser.add_argument("--cases", nargs="+", type=_case, metavar="RESxBATCH",
                        help="train/infer: exactly these (resolution, batch) pairs for each of --models, e.g. 32x64 224x32 "
                             "(instead of the cross product of --resolutions and --batch_sizes)")
    parser.add_argument("--repeats", type=int, default=10,
                        help="rounds; each implementation times --steps steps per round (samples per row: repeats x steps)")
    parser.add_argument("--steps", type=int, default=1, help="timed steps per implementation and round (few: finer interleaving)")
    parser.add_argument("--warmup", type=int, default=2, help="untimed steps after building")
    parser.add_argument("--peers", action=argparse.BooleanOptionalAction, default=True, help="measure the peers too")
    parser.add_argument("--mindcv030-venv", type=Path, dest="mindcv030_venv",
                        help="venv with MindCV 0.3.0 (created there if missing); without it that peer is skipped")
    parser.add_argument("--impls", nargs="+", default=(), metavar="IMPL", choices=suites.IMPL_TITLES,
                        help="measure only these implementations, e.g. mindcv-onnx mindcv-onnx-int8 (default: all)")
    parser.add_argument("--threads", type=int, default=len(os.sched_getaffinity(0)),
                        help="intra-op threads of every framework, all bound to the same that many cores (default: the cores "
                             "this process may use)")
    parser.add_argument("--onnx_threads", type=int, default=0,
                        help="onnxruntime intra-op threads of the ONNX columns (default 0: --threads)")
    parser.add_argument("--num_classes", type=int, default=1000,
                        help="train/infer: classes of the classifier head (the demo's model has 10; the head's weights "
                             "weigh most at small inputs)")
    parser.add_argument("--jit_level", default="O0", choices=("O0", "O1", "O2"),
                        help="graph-mode jit level of every MindSpore implementation (mindcv, train.py in e2e, MindCV 0.3.0)")
    parser.add_argument("--msrun", action=argparse.BooleanOptionalAction, default=True, help="e2e: also 2 processes under msrun")
    parser.add_argument("--tta_rounds", type=int, default=2, help="tta: rounds of both runs, the order alternating")
    parser.add_argument("--fashion_mnist", type=Path, default=tta.DEFAULT_SOURCE,
                        help="tta: folder with Fashion-MNIST's train-images/labels IDX files")
    parser.add_argument("--quick", action=argparse.BooleanOptionalAction, default=False,
                        help="smoke run: mobilenet_v2_100 at batch 2 and 64 px, 1 round of 2 steps, e2e one epoch")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    if args.cases and (args.batch_sizes or args.resolutions):
        parser.error("--cases replaces --batch_sizes and --resolutions: give one or the other")
    if args.quick:
        args.models, args.batch_sizes, args.resolutions = args.models or ["mobilenet_v2_100"], args.batch_sizes or [2], args.resolutions or [64]
        args.repeats, args.steps, args.warmup, args.tta_rounds = 1, 2, 1, 1
    if min(args.repeats, args.steps, args.threads, args.tta_rounds, args.num_classes) < 1 or min(args.warmup, args.onnx_threads) < 0:
        parser.error("--repeats, --steps, --threads, --tta_rounds and --num_classes must be positive, --warmup and --onnx_threads not negative")
    return args


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = parse_args(argv)
    venv = None
    if args.peers and args.mindcv030_venv is not None:
        try:
            venv = suites.ensure_mindcv030_venv(args.mindcv030_venv)
        except ValueError as err:
            print(f"error: {err}", file=sys.stderr)
            return 2
    elif args.peers:
        print("note: MindCV 0.3.0 skipped (give --mindcv030-venv PATH to measure it; see benchmarks/README.md)")
    cores = runner.bind_to_cores(args.threads)  # every worker inherits the binding
    if args.threads > len(cores):
        print(f"note: --threads {args.threads} on {len(cores)} core(s): the threads share them")
    settings = suites.Settings(args.steps, args.repeats, args.warmup, args.peers, venv, args.jit_level, args.out, args.impls,
                               args.onnx_threads, args.threads, args.num_classes)
    env = suites.environment(venv)
    chosen = SUITES if args.suite == "all" else (args.suite,)
    if "tta" in chosen and not tta.has_source(args.fashion_mnist):
        if args.suite == "tta":
            print(f"error: --fashion_mnist {args.fashion_mnist}: no Fashion-MNIST IDX files there", file=sys.stderr)
            return 2
        print(f"note: tta skipped (no Fashion-MNIST IDX files in {args.fashion_mnist}; give --fashion_mnist DIR)")
        chosen = tuple(s for s in chosen if s != "tta")
    for suite in chosen:
        if suite in ("train", "infer"):
            configs = (suites.case_plan(args.models, args.cases, suite) if args.cases
                       else suites.model_plan(args.models, args.batch_sizes, args.resolutions, suite))
            (suites.run_train if suite == "train" else suites.run_infer)(configs, settings)
        elif suite == "tta":
            tta.run_tta(args.out, args.threads, args.tta_rounds, args.fashion_mnist, epochs=1 if args.quick else None)
        elif suite == "data":
            suites.run_data(settings)
        else:
            suites.run_e2e(settings, (1, 2) if args.msrun else (1,), epochs=1 if args.quick else 2)
    # Every suite's CSV in --out, so suites run one at a time still make one summary.
    summary = report.summary_markdown(suites.read_results(args.out, (*SUITES, "flops")), env)
    (args.out / "summary.md").write_text(summary)
    print("\n" + summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
