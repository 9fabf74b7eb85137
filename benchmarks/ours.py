"""mindcv's side of the benchmark: the compiled train step, the network and its exported models."""
import argparse
import tempfile
from typing import Callable

import mindspore as ms
import numpy as np

from mindcv import create_loss, create_model, create_optimizer
from mindcv.deploy import export_network, fold_batchnorm, load_exported
from mindcv.deploy.quantize import quantize_onnx
from mindcv.engine import NetWithLoss, TrainStep
from mindcv.engine.threads import configure_threads

from .runner import MINDCV_MSOPS


def setup(jit_level: str, threads: int) -> None:
    """Graph mode at `jit_level`; `threads` for MindSpore's operators, oneDNN and mindcv's kernels, as train.py pins them."""
    ms.set_device("CPU")
    ms.set_context(mode=ms.GRAPH_MODE, jit_config={"jit_level": jit_level})
    configure_threads(threads)


def inputs(args: argparse.Namespace, seed: int = 0) -> tuple:
    """Random images and labels, the same for every implementation."""
    rng = np.random.default_rng(seed)
    images = rng.standard_normal((args.batch_size, 3, args.resolution, args.resolution)).astype(np.float32)
    labels = rng.integers(0, args.num_classes, args.batch_size).astype(np.int32)
    return images, labels


def build_train(args: argparse.Namespace, impl: str) -> Callable[[], None]:
    """One optimizer step of SGD with momentum on cross-entropy, as train.py runs it, loss read back."""
    if impl not in ("mindcv", MINDCV_MSOPS):
        raise ValueError(f"{impl} has no train step; train the network ('mindcv' or '{MINDCV_MSOPS}')")
    network = create_model(args.model, num_classes=args.num_classes)
    optimizer = create_optimizer(network, "momentum", lr=0.01, momentum=0.9, weight_decay=4e-5)
    step = TrainStep(NetWithLoss(network, create_loss("CE")), optimizer)
    step.set_train()
    images, labels = (ms.Tensor(a) for a in inputs(args))
    return lambda: step(images, labels)[0].asnumpy()


def build_infer(args: argparse.Namespace, impl: str) -> Callable[[], None]:
    """Forward pass in eval mode: the network in graph mode ('mindcv'), or its BN-folded
    export ('mindcv-mindir' through nn.GraphCell, 'mindcv-onnx' through onnxruntime), or that
    ONNX file quantized to int8 ('mindcv-onnx-int8', calibrated on the benchmark's inputs)."""
    network = create_model(args.model, num_classes=args.num_classes)
    network.set_train(False)
    images, _ = inputs(args)
    if impl in ("mindcv", MINDCV_MSOPS):
        tensor = ms.Tensor(images)
        return lambda: network(tensor).asnumpy()
    file_format = impl.split("-")[1]
    folder = tempfile.mkdtemp(prefix="mindcv-bench-")
    path = export_network(fold_batchnorm(network), f"{folder}/model", file_format, images.shape[1:], args.batch_size)
    run = load_exported(path, threads=args.onnx_threads)
    if impl.endswith("-int8"):
        run = load_exported(quantize_onnx(run, images), threads=args.onnx_threads)
    return lambda: run(images)
