"""The benchmark suites (train, infer, data, e2e), their plans, CSV files and summary tables."""
import csv
import datetime
import os
import platform
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field, replace
from importlib import metadata
from pathlib import Path
from typing import Dict, Iterable, List, Optional, Sequence

import yaml

from .runner import (
    MINDCV030, MINDCV030_REQUIREMENTS, MINDCV_MSOPS, REPO, Config, cpu_description, load_average, measure, result_row,
)

MODELS = ("mobilenet_v2_075", "mobilenet_v2_100", "mobilenet_v2_140")
GROWTH_MODEL = "mobilenet_v2_100"
BATCH, RESOLUTION = 32, 224
GROWTH_BATCH_SIZES = (1, 8, 32)
GROWTH_RESOLUTIONS = (96, 160, 224)
TRAIN_IMPLS = ("mindcv", MINDCV_MSOPS, "torch-nchw", "torch-cl", MINDCV030)
INFER_IMPLS = ("mindcv", MINDCV_MSOPS, "mindcv-mindir", "mindcv-onnx", "mindcv-onnx-int8", "torch-nchw", "torch-cl", MINDCV030)
ONNX_IMPLS = ("mindcv-onnx", "mindcv-onnx-int8")
DATA_IMPLS = ("mindcv", "pil", MINDCV030)
DATA_BATCH, DATA_RESOLUTION, DATA_IMAGES = 64, 224, 512
DEMO_CONFIG = REPO / "configs" / "mobilenetv2" / "mobilenetv2_100_demo_cpu.yaml"
IMPL_TITLES = {
    "mindcv": "mindcv",
    MINDCV_MSOPS: "mindcv, kernels off (MindSpore's operators)",
    "mindcv-mindir": "mindcv MINDIR",
    "mindcv-onnx": "mindcv ONNX (onnxruntime)",
    "mindcv-onnx-int8": "mindcv ONNX int8 (onnxruntime)",
    "torch-nchw": "PyTorch NCHW",
    "torch-cl": "PyTorch channels_last",
    "pil": "PIL + numpy",
    MINDCV030: "MindCV 0.3.0",
}
CSV_COLUMNS = (
    "date", "suite", "model", "batch_size", "resolution", "impl", "metric", "value", "median_step_ms", "min_step_ms", "steps",
    "setup_s", "peak_rss_mb", "load_1min_before", "load_1min_after", "error", "cpu", "threads", "jit_level", "onnx_threads",
    "num_classes",
)
# The implementations that run on MindSpore: --jit_level applies to them.
MINDSPORE_IMPLS = ("mindcv", MINDCV_MSOPS, "mindcv-mindir", MINDCV030)


@dataclass
class Settings:
    """What every suite needs from the command line."""

    steps: int
    repeats: int
    warmup: int
    peers: bool
    venv: Optional[Path]
    jit_level: str
    out: Path
    only: Sequence[str] = ()  # measure only these implementations (empty: all)
    onnx_threads: int = 0  # onnxruntime's intra-op threads for the ONNX columns (0: `threads`)
    threads: int = field(default_factory=lambda: len(os.sched_getaffinity(0)))  # intra-op threads of every framework
    num_classes: int = 1000  # classes of the classifier head (train and infer)

    def worker_args(self, impl: str) -> List[str]:
        """The arguments that pin `impl`'s threads (and MindSpore's jit level) in its worker."""
        args = ["--threads", str(self.threads), "--num_classes", str(self.num_classes)]
        if impl in MINDSPORE_IMPLS:
            args += ["--jit_level", self.jit_level]
        if impl in ONNX_IMPLS:
            args += ["--onnx_threads", str(self.onnx_threads or self.threads)]
        return args

    def recorded(self, impl: str) -> Dict[str, object]:
        """The CSV cells saying how `impl` ran: its threads, jit level (MindSpore), onnxruntime threads, head size."""
        return {"threads": self.threads, "jit_level": self.jit_level if impl in MINDSPORE_IMPLS else "",
                "onnx_threads": (self.onnx_threads or self.threads) if impl in ONNX_IMPLS else "",
                "num_classes": self.num_classes}


def model_plan(models: Optional[Sequence[str]], batch_sizes: Optional[Sequence[int]],
               resolutions: Optional[Sequence[int]], task: str) -> List[Config]:
    """The configurations to measure.

    Any of the three lists given: their cross product (defaults MODELS, 32, 224).
    None given: each model at batch 32 and 224, plus mobilenet_v2_100 at batch 1/8/32
    and resolution 96/160/224 (how cost grows); inference adds batch-1 latency per model.
    """
    if models or batch_sizes or resolutions:
        return [Config(task, m, b, r) for m in models or MODELS for b in batch_sizes or (BATCH,)
                for r in resolutions or (RESOLUTION,)]
    cases = [(m, BATCH, RESOLUTION) for m in MODELS]
    cases += [(GROWTH_MODEL, b, RESOLUTION) for b in GROWTH_BATCH_SIZES]
    cases += [(GROWTH_MODEL, BATCH, r) for r in GROWTH_RESOLUTIONS]
    if task == "infer":
        cases += [(m, 1, RESOLUTION) for m in MODELS]
    return [Config(task, *case) for case in sorted(set(cases), key=lambda c: (c[0], c[1], c[2]))]


def case_plan(models: Optional[Sequence[str]], cases: Sequence[tuple], task: str) -> List[Config]:
    """Each model (default mobilenet_v2_100) at each (resolution, batch size) of `cases`."""
    return [Config(task, model, batch, resolution) for model in models or (GROWTH_MODEL,) for resolution, batch in cases]


def _impls(all_impls: Sequence[str], settings: Settings) -> List[str]:
    if settings.only:
        all_impls = [i for i in all_impls if i in settings.only]
    if not settings.peers:
        return [i for i in all_impls if i.startswith("mindcv") and i != MINDCV030]
    return [i for i in all_impls if i != MINDCV030 or settings.venv is not None]


def _measure_rows(suite: str, configs: Iterable[Config], impls: Sequence[str], settings: Settings,
                  images_per_step=lambda config: config.batch_size, write: bool = True) -> List[dict]:
    rows = []
    worker_args = {impl: settings.worker_args(impl) for impl in impls}
    for config in configs:
        print(f"[{suite}] {config.model} batch {config.batch_size} at {config.resolution}: {', '.join(impls)}", flush=True)
        before = load_average()
        results = measure(config, impls, settings.steps, settings.repeats, settings.warmup, settings.venv, worker_args)
        after = load_average()
        for impl in impls:
            row = result_row(suite, config, results[impl], before, after, images_per_step(config))
            row.update(settings.recorded(impl))
            rows.append(row)
            shown = f"{row['value']} {row['metric']}" if row["value"] != "" else f"FAILED: {row['error']}"
            print(f"    {impl:<16} {shown}  peak {row['peak_rss_mb']} MB", flush=True)
    if write:
        write_csv(settings.out / f"{suite}.csv", rows)
    return rows


def run_train(configs: Sequence[Config], settings: Settings) -> List[dict]:
    """The train rows; then their achieved GFLOP/s against the CPU's peak in flops.csv (benchmarks/flops.py)."""
    from .flops import write_flops_csv

    rows = _measure_rows("train", configs, _impls(TRAIN_IMPLS, settings), settings)
    print("[flops] FLOPs per image, fp32 peak and a matmul on the same threads", flush=True)
    write_flops_csv(rows, settings.out / "flops.csv", settings.threads)
    return rows


def run_infer(configs: Sequence[Config], settings: Settings) -> List[dict]:
    return _measure_rows("infer", configs, _impls(INFER_IMPLS, settings), settings)


def run_data(settings: Settings, folder: Optional[Path] = None) -> List[dict]:
    """Training pipeline images/s over JPEGs (generated unless `folder`): ours, PIL, MindCV 0.3.0."""
    from .data_pipeline import image_files, make_jpegs

    with tempfile.TemporaryDirectory(prefix="mindcv-bench-data-") as scratch:
        root = folder or Path(scratch)
        if folder is None:
            make_jpegs(root, DATA_IMAGES)
        images = len(image_files(root / "train"))
        config = Config("data", "-", DATA_BATCH, DATA_RESOLUTION, ("--folder", str(root), "--workers", str(settings.threads)))
        return _measure_rows("data", [config], _impls(DATA_IMPLS, settings), settings, images_per_step=lambda _: images)


def _train_py(processes: int, save_dir: Path, epochs: int, log_dir: Path, settings: Settings) -> List[str]:
    """train.py with the demo config; the processes share --threads, at the benchmark's jit level."""
    args = [str(REPO / "train.py"), "-c", str(DEMO_CONFIG), "--epoch_size", str(epochs), "--val_while_train", "False",
            "--ckpt_save_dir", str(save_dir), "--num_threads", str(_threads_per_process(settings, processes)),
            "--jit_level", settings.jit_level]
    if processes == 1:
        return [sys.executable, *args]
    port = _free_port()
    return ["msrun", f"--worker_num={processes}", f"--local_worker_num={processes}", f"--master_port={port}",
            "--join=True", f"--log_dir={log_dir}", *args, "--distribute", "True"]


def _threads_per_process(settings: Settings, processes: int) -> int:
    return max(1, settings.threads // processes)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _demo_recipe() -> dict:
    with open(DEMO_CONFIG) as f:
        return yaml.safe_load(f)


def _train_py_rows(processes: int, epochs: int, settings: Settings) -> List[dict]:
    """Run train.py (under msrun for several processes); one row per epoch from its summary.csv."""
    recipe = _demo_recipe()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mindcv-bench-e2e-") as scratch:
        save_dir = Path(scratch) / "ckpt"
        command = _train_py(processes, save_dir, epochs, Path(scratch) / "msrun", settings)
        print(f"[e2e] {' '.join(command)}", flush=True)
        before = load_average()
        done = subprocess.run(command, cwd=scratch, env=dict(os.environ, GLOG_v="3"), capture_output=True, text=True)
        after = load_average()
        summary = save_dir / "summary.csv"
        failed = done.returncode != 0 or not summary.is_file()
        error = (done.stderr or done.stdout).strip().splitlines()[-1:] if failed else []
        epochs_done = [] if failed else list(csv.DictReader(open(summary)))
        for epoch in epochs_done or [{"epoch": "?"}]:
            rate = float(epoch["images_per_second"]) / processes if "images_per_second" in epoch else None
            rows.append({
                "date": datetime.datetime.now().isoformat(timespec="seconds"), "suite": "e2e", "model": recipe["model"],
                "batch_size": recipe["batch_size"], "resolution": recipe["image_resize"],
                "impl": f"mindcv train.py, {processes} process{'es' if processes > 1 else ''}, epoch {epoch['epoch']}",
                "metric": "images_per_s_per_process" if rate else "", "value": round(rate, 2) if rate else "",
                "median_step_ms": round(recipe["batch_size"] / rate * 1000, 2) if rate else "", "min_step_ms": "", "steps": "",
                "setup_s": "", "peak_rss_mb": "", "load_1min_before": round(before, 2), "load_1min_after": round(after, 2),
                "error": error[0] if error else "", "cpu": cpu_description(),
                "threads": _threads_per_process(settings, processes), "jit_level": settings.jit_level, "onnx_threads": "",
                "num_classes": recipe["num_classes"],
            })
    return rows


def run_e2e(settings: Settings, process_counts: Sequence[int] = (1, 2), epochs: int = 2) -> List[dict]:
    """Training on the embedded dataset with the demo recipe (its resolution and batch size), no validation.

    Ours is train.py with the demo config, images/s per process from its summary.csv (epoch 1
    includes graph compilation; the last epoch is the steady state), also under msrun. The
    peers (a PyTorch channels_last loop with a PIL DataLoader, MindCV 0.3.0's Model.train)
    run the same recipe on the same folder: one untimed epoch, then `epochs - 1` timed ones.
    """
    from mindcv.data import prepare_fashion_mnist

    rows = []
    for processes in process_counts:
        rows += _train_py_rows(processes, epochs, settings)
    impls = _impls(("torch-cl", MINDCV030), settings)  # the peers only: ours is train.py above
    if impls:
        recipe = _demo_recipe()
        folder = prepare_fashion_mnist()
        images = len(list((folder / "train").rglob("*.png"))) // recipe["batch_size"] * recipe["batch_size"]
        extra = ("--folder", str(folder), "--workers",
                 str(recipe["num_parallel_workers"]), "--scale", *map(str, recipe["scale"]), "--ratio", *map(str, recipe["ratio"]))
        config = Config("e2e", recipe["model"], recipe["batch_size"], recipe["image_resize"], extra)
        peer_settings = replace(settings, steps=max(1, epochs - 1), repeats=1, warmup=1, peers=True,
                                num_classes=recipe["num_classes"])
        rows += _measure_rows("e2e", [config], impls, peer_settings, images_per_step=lambda _: images, write=False)
    write_csv(settings.out / "e2e.csv", rows)
    return rows


def write_csv(path: Path, rows: List[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)


def read_results(folder: Path, suites: Sequence[str]) -> Dict[str, List[dict]]:
    """The rows of each suite's CSV found in `folder`."""
    results = {}
    for suite in suites:
        path = folder / f"{suite}.csv"
        if path.is_file():
            with open(path, newline="") as f:
                results[suite] = list(csv.DictReader(f))
    return results


def ensure_mindcv030_venv(path: Path) -> Path:
    """The virtual environment with MindCV 0.3.0 at `path`, created on first use (outside the repository)."""
    path = path.resolve()
    if path == REPO or REPO in path.parents:
        raise ValueError(f"--mindcv030-venv {path}: must be outside the repository (both packages are named mindcv)")
    python = path / "bin" / "python"
    if not python.is_file():
        print(f"creating {path} with {' '.join(MINDCV030_REQUIREMENTS)} (downloads MindSpore, about 1 GB)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(path)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "-q", *MINDCV030_REQUIREMENTS], check=True)
    return path


def environment(venv: Optional[Path]) -> Dict[str, str]:
    """Machine, versions and date for the results table."""
    versions = {"python": platform.python_version()}
    for name in ("mindspore", "torch", "onnxruntime", "numpy"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    if venv is not None:
        done = subprocess.run([str(venv / "bin" / "python"), "-c", "import importlib.metadata as m; print(m.version('mindcv'))"],
                              capture_output=True, text=True, cwd=venv)
        versions["mindcv (peer venv)"] = done.stdout.strip() or "missing"
    return {
        "date": datetime.datetime.now().isoformat(timespec="minutes"),
        "machine": f"{os.cpu_count()} cores ({len(os.sched_getaffinity(0))} usable), {cpu_description()}, "
                   f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB",
        "versions": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "load_1min_at_start": f"{load_average():.2f}",
        "cpu": cpu_description(),
    }
