"""A tiny validation folder, and networks whose predictions on it the tests compute on their own.

The images are 36x36 PNGs: evaluation at image_resize 32 with crop_pct 0.875 resizes the
shorter side to int(32 / 0.875) = 36 (no change) and centre-crops 32, so the reference
preprocessing below is plain numpy: crop [2:34], normalise, HWC -> CHW.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Sequence, Tuple

import mindspore as ms
import numpy as np
from mindspore import nn
from PIL import Image

from mindcv import create_model, save_checkpoint
from mindcv.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD
from mindcv.models import InvertedResidual

REPO = Path(__file__).resolve().parents[2]
MODEL = "mobilenet_v2_035"
IMAGE_SIZE = 32
FILE_SIZE = 36
CLASS_COUNTS = {"ant": 3, "bee": 2, "cat": 2}  # 7 images: batch 3 leaves a last batch of 1


def use_cpu_pynative() -> None:
    ms.set_device("CPU")
    ms.set_context(mode=ms.PYNATIVE_MODE)


def write_folder(root: Path, counts: Dict[str, int] = CLASS_COUNTS, seed: int = 0) -> List[Tuple[Path, str]]:
    """Write root/val/<class>/<i>.png; return (file, class) in the order the data set reads them."""
    rng = np.random.default_rng(seed)
    written = []
    for name in sorted(counts):
        folder = root / "val" / name
        folder.mkdir(parents=True)
        for i in range(counts[name]):
            # a smooth colour ramp plus noise: images that differ in more than noise
            base = rng.uniform(0, 255, 3) * np.linspace(0.3, 1.0, FILE_SIZE)[:, None, None]
            pixels = np.clip(base + rng.normal(0, 40, (FILE_SIZE, FILE_SIZE, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / f"{i}.png")
            written.append((folder / f"{i}.png", name))
    return written


def preprocess(files: Sequence[Path]) -> np.ndarray:
    """The evaluation transforms, by hand (valid for FILE_SIZE images only)."""
    offset = (FILE_SIZE - IMAGE_SIZE) // 2
    images = []
    for file in files:
        pixels = np.asarray(Image.open(file).convert("RGB"), np.float32)[offset : offset + IMAGE_SIZE, offset : offset + IMAGE_SIZE]
        images.append(((pixels - IMAGENET_DEFAULT_MEAN) / IMAGENET_DEFAULT_STD).transpose(2, 0, 1))
    return np.stack(images).astype(np.float32)


def _calibrate_batchnorm(cells, x: ms.Tensor) -> ms.Tensor:
    """Set each BN's moving statistics to those of its input, as training would.

    A freshly initialised MobileNetV2 shrinks activations layer by layer until every
    image gets the same logits; calibrated, its predictions differ from image to image.
    """
    for layer in cells:
        if isinstance(layer, InvertedResidual):
            y = _calibrate_batchnorm(layer.layers, x)
            x = x + y if layer.use_residual else y
        elif isinstance(layer, nn.BatchNorm2d):
            values = x.asnumpy()
            layer.moving_mean.set_data(ms.Tensor(values.mean(axis=(0, 2, 3))))
            layer.moving_variance.set_data(ms.Tensor(values.var(axis=(0, 2, 3)) + 1e-3))
            x = layer(x)
        else:
            x = layer(x)
    return x


def make_checkpoint(path: Path, num_classes: int, files: Sequence[Path], seed: int = 0, ema_shift: int = 0) -> Path:
    """A checkpoint of MODEL whose predictions on `files` differ from image to image.

    BN statistics are calibrated on the images and the random head is centred on their
    mean feature, so no class wins everything. With `ema_shift`, an `ema.` copy whose
    classifier rows are rolled by that many classes (the EMA weights predict differently).
    """
    ms.set_seed(seed)
    network = create_model(MODEL, num_classes=num_classes)
    network.set_train(False)
    images = ms.Tensor(preprocess(files))
    features = _calibrate_batchnorm(network.features, images).asnumpy().mean(axis=(2, 3))
    weight, bias = network.classifier[1].weight, network.classifier[1].bias
    head = np.random.default_rng(seed).normal(0, 0.1, weight.shape)
    weight.set_data(ms.Tensor(head.astype(np.float32)))
    bias.set_data(ms.Tensor((-head @ features.mean(axis=0)).astype(np.float32)))
    entries = [{"name": p.name, "data": p.data} for p in network.get_parameters()]
    if ema_shift:
        for p in network.trainable_params():
            value = p.data.asnumpy()
            if p.name.startswith("classifier."):
                value = np.roll(value, ema_shift, axis=0)
            entries.append({"name": f"ema.{p.name}", "data": ms.Tensor(value)})
    return save_checkpoint(entries, path)


def reference_logits(checkpoint: Path, num_classes: int, files: Sequence[Path], ema: bool = False) -> np.ndarray:
    """Logits of the checkpoint's network on `files`, loaded and preprocessed without the library's loaders."""
    network = create_model(MODEL, num_classes=num_classes)
    entries = ms.load_checkpoint(str(checkpoint))
    if ema:
        entries.update({k[len("ema."):]: v for k, v in entries.items() if k.startswith("ema.")})
    ms.load_param_into_net(network, {k: v for k, v in entries.items() if not k.startswith("ema.")}, strict_load=True)
    network.set_train(False)
    return network(ms.Tensor(preprocess(files))).asnumpy().astype(np.float64)


def mean_cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(labels)), labels].mean())


def script_main(script: str):
    """The main() of an entry-point script at the repository root, to run it in this process."""
    spec = importlib.util.spec_from_file_location(f"{Path(script).stem}_entry_point", REPO / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def run_script(script: str, *argv: str, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(REPO / script), *argv], cwd=REPO, capture_output=True, text=True, timeout=timeout,
        env={**os.environ, "GLOG_v": "3"},
    )
