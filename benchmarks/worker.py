"""A benchmark worker for mindcv, PyTorch or the PIL data pipeline (see benchmarks/protocol.py).

    python -m benchmarks.worker --impl mindcv --task train --model mobilenet_v2_100 --batch_size 32
"""
import argparse
import os
from multiprocessing import Pool
from pathlib import Path
from typing import Callable

from .protocol import serve, worker_parser
from .runner import MINDCV_MSOPS

IMPLS = ("mindcv", MINDCV_MSOPS, "mindcv-mindir", "mindcv-onnx", "mindcv-onnx-int8", "torch-nchw", "torch-cl", "pil")


def data_epochs(args: argparse.Namespace) -> Callable[[], None]:
    """One pass of the training data pipeline over --folder per call (benchmarks/data_pipeline.py)."""
    from . import data_pipeline

    root = Path(args.folder)
    if args.impl == "mindcv":
        return data_pipeline.mindspore_epochs(root, args.resolution, args.batch_size, args.workers)
    files = data_pipeline.image_files(root / "train")
    pool = Pool(args.workers)
    pool.map(data_pipeline.pil_sample, files[: args.workers])  # start the pool before timing
    return lambda: data_pipeline.pil_epoch(files, pool)


def main() -> None:
    parser = worker_parser(__doc__.splitlines()[0])
    parser.add_argument("--impl", choices=IMPLS, required=True)
    parser.add_argument("--onnx_threads", type=int, default=0, help="onnxruntime intra-op threads (0: --threads)")
    args = parser.parse_args()
    args.onnx_threads = args.onnx_threads or args.threads
    if args.task == "data":
        serve(lambda: data_epochs(args), args.warmup)
        return
    if args.impl == "pil":
        parser.error("--impl pil runs the data task only")
    if args.impl.startswith("torch"):
        from . import peers_torch as backend

        backend.setup(args.threads)
    else:
        if args.impl == MINDCV_MSOPS:
            os.environ["MINDCV_CUSTOM_KERNELS"] = "0"  # read when the first model is built
        from . import ours as backend

        backend.setup(args.jit_level, args.threads)
    if args.task == "e2e" and not args.impl.startswith("torch"):
        parser.error("the e2e task of mindcv is train.py itself")
    build = {"train": backend.build_train, "infer": backend.build_infer, "e2e": getattr(backend, "build_e2e", None)}[args.task]
    serve(lambda: build(args, args.impl), args.warmup)


if __name__ == "__main__":
    main()
