"""The PyTorch peers run without MindSpore in their process, on the same recipe and preprocessing as mindcv."""
import subprocess
import sys

import numpy as np

from benchmarks import pil_pipeline, tta
from mindcv.constants import IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD

REPO = tta.REPO


def test_pytorch_peers_do_not_load_mindspore():
    """Both frameworks ship their own oneDNN and thread pools: a PyTorch peer that imported MindSpore too
    would be timed in a process no PyTorch user runs."""
    probe = ("import sys, benchmarks.peers_torch, benchmarks.tta_torch; "
             "print(sorted(m for m in ('mindspore', 'mindcv') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_pil_pipeline_normalises_with_mindcvs_imagenet_statistics(tmp_path):
    assert pil_pipeline.IMAGENET_MEAN == IMAGENET_DEFAULT_MEAN and pil_pipeline.IMAGENET_STD == IMAGENET_DEFAULT_STD
    from PIL import Image

    pixels = np.random.default_rng(0).integers(0, 256, (28, 28), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    sample = pil_pipeline.eval_sample(tmp_path / "a.png", 32, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)
    assert sample.shape == (3, 32, 32) and sample.dtype == np.float32
    train = pil_pipeline.train_sample(tmp_path / "a.png", 32, (0.5, 1.0), (0.75, 1.333), 0.5, IMAGENET_DEFAULT_MEAN, IMAGENET_DEFAULT_STD)
    assert train.shape == (3, 32, 32)
    assert pil_pipeline.image_files(tmp_path) == [tmp_path / "a.png"]


def test_tta_recipe_is_train_pys_resolved_config(tmp_path):
    """The PyTorch loop's recipe comes from the same YAML through mindcv's parser: batch, augmentation,
    normalisation, optimizer, and the learning rate of every step (1 warmup epoch, then cosine)."""
    for split, count in (("train", 6), ("val", 2)):
        for label in range(2):
            (tmp_path / split / f"c{label}").mkdir(parents=True)
            for i in range(count):
                (tmp_path / split / f"c{label}" / f"{i}.png").write_bytes(b"")
    recipe = tta.torch_recipe(["-c", str(tta.TTA_CONFIG), "--data_dir", str(tmp_path), "--batch_size", "4"], threads=2)
    assert recipe["image_resize"] == 32 and recipe["scale"] == [0.5, 1.0] and recipe["hflip"] == 0.5
    assert recipe["mean"] == list(IMAGENET_DEFAULT_MEAN) and recipe["label_smoothing"] == 0.1
    assert recipe["momentum"] == 0.9 and recipe["no_decay_on_norm_and_bias"] and recipe["threads"] == 2
    lrs = recipe["lrs"]
    assert len(lrs) == 4 * 3  # 4 epochs of 12 // 4 steps
    assert lrs[0] < lrs[2] and max(lrs) <= 0.05 and lrs[-1] < lrs[4]
