"""The README's benchmark headline is what the CSVs of benchmarks/results/ give, figure for figure."""
import csv
from pathlib import Path

import pytest

from benchmarks import headline
from benchmarks.suites import CSV_COLUMNS

INTEL = "Intel(R) Xeon(R) Processor; avx2 avx512f"


def test_readme_block_equals_what_the_csvs_generate():
    readme = headline.README.read_text()
    assert headline.readme_block(readme) == headline.headline(), (
        "README.md's benchmark headline differs from benchmarks/results/*.csv: run `python -m benchmarks.headline`"
    )


def _write(path: Path, rows: list) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows([{column: row.get(column, "") for column in CSV_COLUMNS} for row in rows])


def _row(impl: str, value: float, cpu: str, date: str, suite: str = "train", batch: int = 32, metric: str = "images_per_s") -> dict:
    return {"date": date, "suite": suite, "model": "mobilenet_v2_100", "batch_size": batch, "resolution": 224, "impl": impl,
            "metric": metric, "value": value, "median_step_ms": 1.0, "min_step_ms": 0.9, "steps": 10, "cpu": cpu,
            "threads": 2, "jit_level": "O0" if impl.startswith("mindcv") else ""}


def test_each_figure_names_its_cpu_and_date_newest_run_first(tmp_path):
    _write(tmp_path / "train.csv", [_row("mindcv", 30.0, INTEL, "2026-12-05T10:00:00"),
                                    _row("torch-cl", 20.0, INTEL, "2026-12-05T10:00:00")])
    _write(tmp_path / "old" / "train.csv", [_row("mindcv", 23.7, "AMD EPYC; not recorded", "2026-11-28T17:37:14"),
                                            _row("torch-cl", 11.0, "AMD EPYC; not recorded", "2026-11-28T17:37:14")])
    _write(tmp_path / "old" / "infer.csv", [_row("mindcv", 30.0, "AMD EPYC; not recorded", "2026-11-28T17:41:00", "infer", 1, "latency_ms"),
                                            _row("torch-nchw", 60.0, "AMD EPYC; not recorded", "2026-11-28T17:41:00", "infer", 1, "latency_ms")])
    block = headline.headline(tmp_path, (("", "latest"), ("old", "older")))
    lines = block.splitlines()
    train = lines.index(next(line for line in lines if line.startswith("| train step, mobilenet_v2_100, batch 32, 224 px")))
    assert lines[train] == "| train step, mobilenet_v2_100, batch 32, 224 px (images/s) | Intel(R) Xeon(R) Processor, 2026-12-05 | 30.0 |  |  | 20.0 (1.50x) |  |"
    assert lines[train + 1] == "|  | AMD EPYC, 2026-11-28 | 23.7 |  |  | 11.0 (2.15x) |  |"
    # Latency: the ratio is the peer's milliseconds over ours.
    assert "| inference, mobilenet_v2_100, batch 1, 224 px (latency, ms) | AMD EPYC, 2026-11-28 | 30.0 |  | 60.0 (2.00x) |" in block
    assert f"- `benchmarks/results/`: latest; CPU {INTEL}; 2026-12-05T10:00 to 2026-12-05T10:00; medians of 10 alternating samples; threads 2; MindSpore jit level O0." in lines
    assert lines[-1].startswith("- `benchmarks/results/old/`: older; CPU AMD EPYC; not recorded;")


def test_a_hand_edited_figure_no_longer_matches_and_the_command_restores_it(tmp_path, monkeypatch):
    results = tmp_path / "results"
    _write(results / "train.csv", [_row("mindcv", 30.0, INTEL, "2026-12-05T10:00:00")])
    monkeypatch.setattr(headline, "RESULTS", results)
    monkeypatch.setattr(headline, "RUNS", (("", "latest"),))
    readme = tmp_path / "README.md"
    generated = headline.replace_block(f"# x\n\n{headline.HEADLINE_START}\n{headline.HEADLINE_END}\n\nafter\n",
                                       headline.headline(results, (("", "latest"),)))
    readme.write_text(generated.replace("| 30.0 |", "| 33.0 |"))
    assert headline.readme_block(readme.read_text()) != headline.headline(results, (("", "latest"),))
    assert headline.main(["--readme", str(readme)]) == 0
    assert readme.read_text() == generated and generated.endswith(f"{headline.HEADLINE_END}\n\nafter\n")


def test_a_readme_without_the_markers_is_one_error_line(tmp_path, capsys):
    readme = tmp_path / "README.md"
    readme.write_text("# no headline here\n")
    assert headline.main(["--readme", str(readme)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and readme.read_text() == "# no headline here\n"
    with pytest.raises(ValueError, match="markers"):
        headline.readme_block("nothing")
