"""The MindCV 0.3.0 peer: a benchmark worker run by its own virtual environment's python.

Both packages are called mindcv, so this file runs as a script (its folder, not the
repository, is first on sys.path) and imports only the standard library, numpy,
MindSpore and MindCV 0.3.0. Setup (see benchmarks/README.md):

    python -m venv /tmp/mindcv030
    /tmp/mindcv030/bin/pip install mindspore==2.10.0 "numpy<2" mindcv==0.3.0
    /tmp/mindcv030/bin/python benchmarks/peer_mindcv.py --task train --batch_size 32 --threads 2 --jit_level O0

The train step is what MindCV 0.3.0's train.py builds with its defaults (fixed loss
scale 1, no EMA, clipping or accumulation): `create_trainer` returns a
mindspore.Model whose train network is called here step by step on one batch, at the
benchmark's jit level and thread count (the same as mindcv's workers).
"""
import argparse

import mindspore as ms
import numpy as np
from mindspore import dataset as ds

from protocol import serve, worker_parser

import mindcv  # MindCV 0.3.0, from the virtual environment
from mindcv.data import create_dataset, create_loader, create_transforms
from mindcv.loss import create_loss
from mindcv.models import create_model
from mindcv.optim import create_optimizer
from mindcv.scheduler import create_scheduler
from mindcv.utils import create_trainer


def _inputs(args) -> tuple:
    rng = np.random.default_rng(0)
    images = rng.standard_normal((args.batch_size, 3, args.resolution, args.resolution)).astype(np.float32)
    labels = rng.integers(0, args.num_classes, args.batch_size).astype(np.int32)
    return ms.Tensor(images), ms.Tensor(labels)


def build_train(args):
    network = create_model(args.model, num_classes=args.num_classes)
    optimizer = create_optimizer(network, "momentum", lr=0.01, momentum=0.9, weight_decay=4e-5)
    model = create_trainer(network, create_loss("CE"), optimizer, metrics=None, amp_level="O0",
                           amp_cast_list=None, loss_scale_type="fixed")
    train_network = model._train_network  # the cell Model.train would run each step
    train_network.set_train()
    images, labels = _inputs(args)
    return lambda: train_network(images, labels).asnumpy()


def build_infer(args):
    network = create_model(args.model, num_classes=args.num_classes)
    network.set_train(False)
    images, _ = _inputs(args)
    return lambda: network(images).asnumpy()


def build_data(args):
    """One epoch of MindCV 0.3.0's ImageNet training pipeline over `--folder`."""
    ds.config.set_seed(0)
    dataset = create_dataset("imagenet", args.folder, "train", shuffle=True, num_parallel_workers=args.workers)
    transform = create_transforms("imagenet", image_resize=args.resolution, is_training=True)
    loader = create_loader(dataset, args.batch_size, is_training=True, transform=transform,
                           num_parallel_workers=args.workers)

    def epoch() -> None:
        for _ in loader.create_tuple_iterator(output_numpy=True, num_epochs=1):  # as in data_pipeline.py
            pass

    return epoch


def build_e2e(args):
    """One epoch of what MindCV 0.3.0's train.py runs (its loader, model, loss, optimizer and
    mindspore.Model) on the image folder `--folder`."""
    ds.config.set_seed(0)
    dataset = create_dataset("", args.folder, "train", shuffle=True, num_parallel_workers=args.workers)
    transform = create_transforms("", image_resize=args.resolution, is_training=True, scale=tuple(args.scale),
                                  ratio=tuple(args.ratio), hflip=0.5)
    loader = create_loader(dataset, args.batch_size, drop_remainder=True, is_training=True, transform=transform,
                           num_classes=args.num_classes, num_parallel_workers=args.workers)
    network = create_model(args.model, num_classes=args.num_classes)
    steps = loader.get_dataset_size()
    lr = create_scheduler(steps, "cosine_decay", lr=0.1, min_lr=0.0, warmup_epochs=1, decay_epochs=6, num_epochs=7)
    optimizer = create_optimizer(network, "momentum", lr=lr, momentum=0.9, weight_decay=4e-5)
    model = create_trainer(network, create_loss("CE", label_smoothing=0.1), optimizer, metrics=None, amp_level="O0",
                           amp_cast_list=None, loss_scale_type="fixed")
    return lambda: model.train(1, loader, dataset_sink_mode=args.sink)


def main() -> None:
    parser = worker_parser(__doc__.splitlines()[0])
    parser.add_argument("--sink", action=argparse.BooleanOptionalAction, default=True,
                        help="e2e task: dataset sink mode (the default of MindCV 0.3.0's train.py)")
    args = parser.parse_args()
    assert mindcv.__version__ == "0.3.0", f"expected MindCV 0.3.0, found {mindcv.__version__} at {mindcv.__file__}"
    ms.set_device("CPU")
    # The same jit level and operator threads as mindcv's worker, the way MindSpore 2.10 sets them
    # (the process is already bound to --threads cores by benchmark.py).
    ms.set_context(mode=ms.GRAPH_MODE, jit_config={"jit_level": args.jit_level})
    ms.device_context.cpu.op_tuning.threads_num(args.threads)
    build = {"train": build_train, "infer": build_infer, "data": build_data, "e2e": build_e2e}[args.task]
    serve(lambda: build(args), args.warmup)


if __name__ == "__main__":
    main()
