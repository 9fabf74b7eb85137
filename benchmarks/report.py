"""The summary tables (markdown) of one benchmark run: every figure next to its peers, with the ratio."""
from collections import OrderedDict
from typing import Dict, List

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


def comparison_table(rows: List[dict]) -> str:
    """One line per configuration; a peer's cell is `value (ratio)`, ratio = fastest mindcv / peer (> 1: we win)."""
    groups: "OrderedDict[tuple, List[dict]]" = OrderedDict()
    for row in rows:
        groups.setdefault((row["suite"], row["model"], row["batch_size"], row["resolution"]), []).append(row)
    impls = list(OrderedDict.fromkeys(row["impl"] for row in rows))
    header = ["suite", "model", "batch", "res", "unit"] + [IMPL_TITLES.get(i, i) for i in impls] + ["peak RSS MB (same order)", "load 1 min"]
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
                cells.append(_format(float(row["value"])))
            else:
                cells.append(f"{_format(float(row['value']))} ({best / _speed(row):.2f}x)")
        memory = " / ".join(str(by_impl[i]["peak_rss_mb"]) for i in impls if i in by_impl and by_impl[i]["value"] != "")
        loads = sorted({members[0]["load_1min_before"], members[0]["load_1min_after"]})
        lines.append("| " + " | ".join([suite, model, str(batch), str(res), unit.replace("_", " ")] + cells + [memory, "-".join(map(str, loads))]) + " |")
    return "\n".join(lines)


def summary_markdown(results: Dict[str, List[dict]], env: Dict[str, str]) -> str:
    parts = [f"Measured {env['date']} on {env['machine']}; {env['versions']}. "
             f"Load average (1 min) at start: {env['load_1min_at_start']}. A peer's cell reads `value (ratio)`: "
             "ratio = speed of the fastest mindcv column of that row / the peer's speed (for latency, the inverse "
             "ratio of milliseconds); above 1 mindcv is faster."]
    for suite in ("train", "infer", "data"):
        if results.get(suite):
            parts.append(f"\n**{suite}**\n\n" + comparison_table(results[suite]))
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
