"""The summary tables (markdown) of one benchmark run: every figure next to its peers, with the ratio."""
from collections import OrderedDict
from typing import Dict, List

from .flops import MATMUL_SIZE
from .runner import MINDCV030
from .suites import IMPL_TITLES
from .tta import tta_table


def _speed(row: dict) -> float:
    """Higher is faster: images/s, or 1 / latency."""
    value = float(row["value"])
    return 1000.0 / value if row["metric"] == "latency_ms" else value


def _is_ours(impl: str) -> bool:
    return impl.startswith("mindcv") and impl != MINDCV030


def _format(value: float) -> str:
    return f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _best(row: dict) -> float:
    """The row's figure at its fastest sample (min step): latency is the min, a rate scales by median / min."""
    median_ms, min_ms = float(row["median_step_ms"]), float(row["min_step_ms"])
    return min_ms if row["metric"] == "latency_ms" else float(row["value"]) * median_ms / min_ms


def _median_and_min(row: dict) -> str:
    """`median / at the min step`, e.g. `23.7 / 25.1` images/s; the median alone where no min is recorded."""
    if row.get("min_step_ms", "") == "":
        return _format(float(row["value"]))
    return f"{_format(float(row['value']))} / {_format(_best(row))}"


def _model_cell(row: dict) -> str:
    """The model, with its head size where that is not ImageNet's 1000 classes (CSVs before the column: 1000)."""
    classes = row.get("num_classes") or "1000"
    return row["model"] if classes == "1000" else f"{row['model']} ({classes} classes)"


def comparison_table(rows: List[dict]) -> str:
    """One line per configuration; a peer's cell is `value (ratio)`, ratio = fastest mindcv / peer (> 1: we win)."""
    groups: "OrderedDict[tuple, List[dict]]" = OrderedDict()
    for row in rows:
        groups.setdefault((row["suite"], _model_cell(row), row["batch_size"], row["resolution"]), []).append(row)
    impls = list(OrderedDict.fromkeys(row["impl"] for row in rows))
    header = (["suite", "model", "batch", "res", "unit"] + [IMPL_TITLES.get(i, i) for i in impls]
              + ["samples", "peak RSS MB (same order)", "load 1 min"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for (suite, model, batch, res), members in groups.items():
        by_impl = {row["impl"]: row for row in members}
        measured = [row for row in members if row["value"] != ""]
        ours = [row for row in measured if _is_ours(row["impl"])]
        best = max((_speed(row) for row in ours), default=None)
        unit = next((row["metric"] for row in measured), "")
        cells = []
        for impl in impls:
            row = by_impl.get(impl)
            if row is None:
                cells.append("")
            elif row["value"] == "":
                cells.append("failed")
            elif _is_ours(impl) or best is None:
                cells.append(_median_and_min(row))
            else:
                cells.append(f"{_median_and_min(row)} ({best / _speed(row):.2f}x)")
        memory = " / ".join(str(by_impl[i]["peak_rss_mb"]) for i in impls if i in by_impl and by_impl[i]["value"] != "")
        samples = "-".join(map(str, sorted({int(row["steps"]) for row in measured}))) if measured else ""
        loads = sorted({members[0]["load_1min_before"], members[0]["load_1min_after"]})
        lines.append("| " + " | ".join([suite, model, str(batch), str(res), unit.replace("_", " ")] + cells
                                       + [samples, memory, "-".join(map(str, loads))]) + " |")
    return "\n".join(lines)


def _distinct(results: Dict[str, List[dict]], column: str) -> List[str]:
    """The values of `column` over every row of every suite, in order of appearance (blanks left out)."""
    values = (row.get(column) or "" for rows in results.values() for row in rows)
    return [value for value in OrderedDict.fromkeys(values) if value]


def run_conditions(results: Dict[str, List[dict]], env: Dict[str, str]) -> List[str]:
    """The lines naming what the figures depend on: the CPU and its vector extensions, threads, jit level."""
    cpus = _distinct(results, "cpu") or [env["cpu"]]
    threads = _distinct(results, "threads")
    onnx = _distinct(results, "onnx_threads")
    jit = _distinct(results, "jit_level")
    return [
        f"CPU: {' | '.join(cpus)} (model; the vector extensions it has)",
        f"Threads per process: {', '.join(threads) or 'not recorded'} (every framework's intra-op threads, on the same "
        "cores; train.py under msrun splits them between its processes)"
        + (f"; onnxruntime: {', '.join(onnx)}" if onnx else ""),
        f"MindSpore jit level (mindcv and MindCV 0.3.0): {', '.join(jit) or 'not recorded'}",
    ]


def summary_markdown(results: Dict[str, List[dict]], env: Dict[str, str]) -> str:
    parts = [f"Measured {env['date']} on {env['machine']}; {env['versions']}. "
             f"Load average (1 min) at start: {env['load_1min_at_start']}.\n"]
    parts += [f"- {line}" for line in run_conditions(results, env)]
    parts.append("\nEach cell reads `median / best`: the figure at the row's median sample and at its fastest one "
                 "(min step); `samples` is how many timed samples each has. A peer's cell adds `(ratio)`: ratio = "
                 "median speed of the fastest mindcv column of that row / the peer's (for latency, the inverse ratio "
                 "of milliseconds); above 1 mindcv is faster.")
    for suite in ("train", "infer", "data"):
        if results.get(suite):
            parts.append(f"\n**{suite}**\n\n" + comparison_table(results[suite]))
    if results.get("flops"):
        parts.append("\n" + gflops_table(results["flops"]))
    consumption = _data_over_train(results)
    if consumption:
        parts.append(f"\nData pipeline vs train step consumption at 224: {consumption}.")
    if results.get("e2e"):
        first = results["e2e"][0]
        parts.append(f"\n**e2e** (embedded dataset, demo recipe: {first['resolution']} px, batch {first['batch_size']}; "
                     "ratio: mindcv train.py, 1 process, last epoch / this run)\n\n" + _e2e_table(results["e2e"]))
    if results.get("tta"):
        parts.append("\n**tta** (time to accuracy, benchmarks/tta_fashion_mnist.yaml: wall time from launch to exit, "
                     "medians over rounds)\n\n" + tta_table(results["tta"]))
    return "\n".join(parts) + "\n"


def gflops_table(rows: List[dict]) -> str:
    """Achieved GFLOP/s of each train row (flops.csv) with its share of the fp32 peak, under a line naming the peaks."""
    first = rows[0]
    lines = [
        f"**GFLOP/s of the train step** (forward + backward, per image counted by FlopCounterMode on the PyTorch "
        f"replica; `benchmarks/flops.py`). fp32 peak = {first['threads']} core{'' if first['threads'] == '1' else 's'} x {float(first['clock_mhz']) / 1000:.2f} GHz "
        f"({first['clock_source']}) x {first['fp32_flops_per_cycle']} FLOPs/cycle ({first['vector_isa']}, assuming 2 FMA "
        f"units) = {first['peak_gflops']} GFLOP/s; a {MATMUL_SIZE}x{MATMUL_SIZE} float32 matmul in PyTorch on the same "
        f"threads: {first['matmul_gflops']} GFLOP/s. A cell reads `GFLOP/s (% of the peak)`.",
        "",
    ]
    impls = list(OrderedDict.fromkeys(row["impl"] for row in rows))
    header = ["model", "batch", "res", "GFLOP per image"] + [IMPL_TITLES.get(i, i) for i in impls]
    lines += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    groups: "OrderedDict[tuple, Dict[str, dict]]" = OrderedDict()
    for row in rows:
        groups.setdefault((_model_cell(row), row["batch_size"], row["resolution"], row["gflop_per_image"]), {})[row["impl"]] = row
    for (model, batch, res, gflop), by_impl in groups.items():
        cells = [f"{_format(float(by_impl[i]['achieved_gflops']))} ({float(by_impl[i]['percent_of_peak']):.1f}%)"
                 if i in by_impl else "" for i in impls]
        lines.append("| " + " | ".join([model, batch, res, gflop] + cells) + " |")
    return "\n".join(lines)


def _data_over_train(results: Dict[str, List[dict]]) -> str:
    data = next((r for r in results.get("data", []) if r["impl"] == "mindcv" and r["value"] != ""), None)
    train = next((r for r in results.get("train", []) if r["impl"] == "mindcv" and r["value"] != ""
                  and int(r["resolution"]) == 224 and r["model"] == "mobilenet_v2_100"
                  and int(r["batch_size"]) == 32), None)
    if data is None or train is None:
        return ""
    return (f"{float(data['value']):.0f} images/s delivered, {float(train['value']):.1f} images/s consumed "
            f"(mobilenet_v2_100, batch 32): {float(data['value']) / float(train['value']):.0f}x")


def _e2e_table(rows: List[dict]) -> str:
    measured = [r for r in rows if r["value"] != ""]
    ours = [r for r in measured if r["impl"].startswith("mindcv train.py, 1 process,")]
    reference = float(ours[-1]["value"]) if ours else None
    lines = ["| run | images/s per process | ratio | load 1 min |", "|---|---|---|---|"]
    for row in rows:
        name = IMPL_TITLES.get(row["impl"], row["impl"])
        if row["value"] == "":
            lines.append(f"| {name} | failed: {row['error']} | | |")
            continue
        ratio = f"{reference / float(row['value']):.2f}x" if reference else ""
        lines.append(f"| {name} | {_format(float(row['value']))} | {ratio} | {row['load_1min_before']}-{row['load_1min_after']} |")
    return "\n".join(lines)
