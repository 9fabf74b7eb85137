"""Time to accuracy: train.py on a MindCV-style recipe against a plain PyTorch loop on the same recipe.

Both train mobilenet_v2_100 from scratch on the same Fashion-MNIST split (1,000 training images per
class from the IDX files, 10,000 other images of the same file as validation), with the same learning
rate at every step, the same augmentation, threads and data workers, validating every epoch. Each run
is a fresh process, timed from launch to exit (imports and graph compilation count), its peak memory
sampled over its whole process tree (data workers included). Rounds alternate the order.
"""
import csv
import datetime
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Dict, List, Optional, Sequence

import psutil

from .protocol import model_width
from .runner import REPO, cpu_description, load_average

TTA_CONFIG = REPO / "benchmarks" / "tta_fashion_mnist.yaml"
DEFAULT_SOURCE = REPO.parent / "shared" / "data" / "fashion-mnist"
PER_CLASS = {"train": 1000, "val": 1000}
SPLIT_SEED = 0
IMPLS = ("mindcv train.py", "PyTorch loop (channels_last)")
COLUMNS = ("date", "round", "impl", "epoch", "wall_s", "train_images_per_s", "val_images_per_s", "train_loss",
           "val_top1", "peak_rss_mb", "threads", "workers", "load_1min_before", "load_1min_after", "cpu", "error")
RSS_SAMPLE_S = 0.2


@dataclass
class Run:
    """One process's result: wall time, peak memory and a dict per epoch (or the error that ended it)."""

    impl: str
    wall_s: float = 0.0
    peak_rss_mb: float = 0.0
    epochs: List[dict] = field(default_factory=list)
    error: str = ""


def has_source(source: Path) -> bool:
    from mindcv.data.idx import IMAGES_FILE, LABELS_FILE

    return (source / IMAGES_FILE).is_file() and (source / LABELS_FILE).is_file()


def prepare_split(source: Path, cache: Optional[Path] = None) -> Path:
    """The ImageNet-layout folder (train/, val/ of PNGs) of the split, built once and cached by its definition."""
    from mindcv.data.embedded import fashion_mnist_folder_names
    from mindcv.data.idx import IMAGES_FILE, balanced_split, read_images_and_labels, write_image_folder

    key = hashlib.sha256(json.dumps([PER_CLASS, SPLIT_SEED, (source / IMAGES_FILE).stat().st_size]).encode()).hexdigest()[:12]
    target = (cache or Path(tempfile.gettempdir())) / f"mindcv-bench-tta-{key}"
    if target.is_dir():
        return target
    images, labels = read_images_and_labels(source)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for split, index in balanced_split(labels, PER_CLASS, SPLIT_SEED).items():
            write_image_folder(staging / split, images[index], labels[index], index, fashion_mnist_folder_names())
        os.rename(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def torch_recipe(config_argv: Sequence[str], threads: int) -> dict:
    """The PyTorch loop's recipe: train.py's resolved settings for `config_argv`, and its learning rate per step."""
    from mindcv.config import parse_config
    from mindcv.engine import builders

    cfg = parse_config(config_argv)
    data, aug, sched, opt = cfg.data, cfg.augmentation, cfg.scheduler, cfg.optimizer
    if opt.opt != "momentum" or cfg.loss.loss != "CE" or sched.scheduler not in ("cosine_decay",):
        raise ValueError(f"{TTA_CONFIG}: the PyTorch loop implements momentum SGD, CE and cosine_decay only")
    train_images = sum(1 for _ in (Path(data.data_dir) / data.train_split).rglob("*.png"))
    steps_per_epoch = train_images // data.batch_size
    return {
        "data_dir": data.data_dir, "train_split": data.train_split, "val_split": data.val_split,
        "batch_size": data.batch_size, "val_batch_size": data.val_batch_size, "drop_remainder": data.drop_remainder,
        "workers": cfg.system.num_parallel_workers, "threads": threads,
        "image_resize": aug.image_resize, "scale": aug.scale, "ratio": aug.ratio, "hflip": aug.hflip,
        "mean": aug.mean, "std": aug.std, "num_classes": cfg.model.num_classes,
        "width": model_width(cfg.model.model), "seed": cfg.system.seed, "epochs": cfg.train.epoch_size,
        "lrs": builders.build_lr_schedule(cfg, steps_per_epoch), "momentum": opt.momentum,
        "nesterov": opt.use_nesterov, "weight_decay": opt.weight_decay,
        "no_decay_on_norm_and_bias": opt.weight_decay_filter == "norm_and_bias",
        "label_smoothing": cfg.loss.label_smoothing,
    }


def _tree_rss(process: psutil.Process) -> int:
    total = 0
    for member in [process, *process.children(recursive=True)]:
        try:
            total += member.memory_info().rss
        except psutil.Error:  # a worker that just exited
            pass
    return total


def _timed(command: List[str], log: Path, env: Dict[str, str]) -> tuple:
    """(exit code, wall seconds, peak RSS MB of the process tree) of `command`, its output in `log`."""
    start = time.perf_counter()
    peak = 0
    with open(log, "w") as out:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
        watched = psutil.Process(process.pid)
        while process.poll() is None:
            peak = max(peak, _tree_rss(watched))
            time.sleep(RSS_SAMPLE_S)
    return process.returncode, time.perf_counter() - start, peak / 2**20


def _failure(log: Path) -> str:
    lines = log.read_text(errors="replace").strip().splitlines()
    return next((line for line in reversed(lines) if line.startswith("error:")), lines[-1] if lines else "no output")


def run_ours(config_argv: List[str], scratch: Path) -> Run:
    """train.py on the recipe; epochs from its summary.csv."""
    save = scratch / "ckpt"
    command = [sys.executable, str(REPO / "train.py"), *config_argv, "--ckpt_save_dir", str(save)]
    code, wall, peak = _timed(command, scratch / "train.log", dict(os.environ, GLOG_v="3"))
    run = Run(IMPLS[0], wall, peak)
    if code != 0 or not (save / "summary.csv").is_file():
        run.error = f"exit code {code}: {_failure(scratch / 'train.log')}"
        return run
    with open(save / "summary.csv", newline="") as f:
        run.epochs = [{"epoch": int(row["epoch"]), "train_images_per_s": float(row["images_per_second"]),
                       "val_images_per_s": float(row["val_images_per_second"]), "train_loss": float(row["train_loss"]),
                       "val_top1": float(row["val_top1"])} for row in csv.DictReader(f)]
    return run


def run_torch(recipe: dict, scratch: Path) -> Run:
    """benchmarks/tta_torch.py on the recipe; epochs from the JSON lines it writes."""
    (scratch / "recipe.json").write_text(json.dumps(recipe))
    out = scratch / "epochs.jsonl"
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    command = [sys.executable, "-m", "benchmarks.tta_torch", str(scratch / "recipe.json"), str(out)]
    code, wall, peak = _timed(command, scratch / "torch.log", env)
    run = Run(IMPLS[1], wall, peak)
    if code != 0:
        run.error = f"exit code {code}: {_failure(scratch / 'torch.log')}"
        return run
    run.epochs = [json.loads(line) for line in out.read_text().splitlines()]
    return run


def run_tta(out: Path, threads: int, rounds: int = 2, source: Path = DEFAULT_SOURCE, epochs: Optional[int] = None) -> List[dict]:
    """`rounds` rounds of both runs, the order alternating; rows (one per run and epoch) written to out/tta.csv."""
    folder = prepare_split(source)
    config_argv = ["-c", str(TTA_CONFIG), "--data_dir", str(folder), "--num_threads", str(threads)]
    if epochs:
        warmup = 1 if epochs > 1 else 0
        config_argv += ["--epoch_size", str(epochs), "--warmup_epochs", str(warmup), "--decay_epochs", str(epochs - warmup)]
    recipe = torch_recipe(config_argv, threads)
    rows = []
    for round_index in range(rounds):
        order = ("ours", "torch") if round_index % 2 == 0 else ("torch", "ours")
        for which in order:
            with tempfile.TemporaryDirectory(prefix="mindcv-bench-tta-run-") as scratch:
                print(f"[tta] round {round_index + 1}/{rounds}: {which}", flush=True)
                before = load_average()
                run = run_ours(config_argv, Path(scratch)) if which == "ours" else run_torch(recipe, Path(scratch))
                after = load_average()
            print(f"    {run.impl}: {run.wall_s:.1f} s, top-1 {run.epochs[-1]['val_top1'] if run.epochs else 'failed: ' + run.error}", flush=True)
            for epoch in run.epochs or [{}]:
                rows.append({
                    "date": datetime.datetime.now().isoformat(timespec="seconds"), "round": round_index + 1,
                    "impl": run.impl, "epoch": epoch.get("epoch", ""), "wall_s": round(run.wall_s, 1),
                    **{key: round(epoch[key], 4) if key in epoch else "" for key in
                       ("train_images_per_s", "val_images_per_s", "train_loss", "val_top1")},
                    "peak_rss_mb": round(run.peak_rss_mb, 1), "threads": threads, "workers": recipe["workers"],
                    "load_1min_before": round(before, 2), "load_1min_after": round(after, 2), "cpu": cpu_description(),
                    "error": run.error,
                })
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "tta.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return rows


def tta_table(rows: List[dict]) -> str:
    """Per implementation: median over rounds of wall time, steady train / validation images/s (last epoch),
    top-1 after the last epoch and peak memory; the ratio is mindcv's wall time over the peer's (< 1: we win)."""
    summary = {}
    for impl in IMPLS:
        runs = {}
        for row in rows:
            if row["impl"] == impl and row["epoch"] != "":
                runs.setdefault(row["round"], []).append(row)
        if not runs:
            continue
        last = [max(epochs, key=lambda r: int(r["epoch"])) for epochs in runs.values()]
        summary[impl] = {
            "wall": median(float(r["wall_s"]) for r in last), "train": median(float(r["train_images_per_s"]) for r in last),
            "val": median(float(r["val_images_per_s"]) for r in last), "top1": median(float(r["val_top1"]) for r in last),
            "rss": max(float(r["peak_rss_mb"]) for r in last), "rounds": len(last),
            "curve": " / ".join(f"{float(r['val_top1']):.3f}" for r in sorted(runs[min(runs)], key=lambda r: int(r["epoch"]))),
        }
    ours = summary.get(IMPLS[0])
    lines = ["| run | rounds | wall time s | wall time ratio (mindcv / this) | train images/s (last epoch) | "
             "validation images/s (last epoch) | top-1 per epoch (round 1) | top-1 after the last epoch | peak RSS MB |",
             "|---|---|---|---|---|---|---|---|---|"]
    for impl, s in summary.items():
        ratio = f"{ours['wall'] / s['wall']:.2f}" if ours else ""
        lines.append(f"| {impl} | {s['rounds']} | {s['wall']:.1f} | {ratio} | {s['train']:.0f} | {s['val']:.0f} | "
                     f"{s['curve']} | {s['top1']:.4f} | {s['rss']:.0f} |")
    return "\n".join(lines)
