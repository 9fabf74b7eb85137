"""benchmarks/kernel_layers.py: the network's kernel shapes, and a run against a baseline commit."""
import csv
import subprocess

from benchmarks import kernel_layers


def test_layer_shapes_are_mobilenet_v2s():
    depthwise, norms = kernel_layers.layer_shapes(32)
    assert len(depthwise) == 17 and len(norms) == 52  # 17 blocks; stem + 16 expansions + 17 x 2 + head
    assert depthwise[0] == (32, 16, 1) and depthwise[1] == (96, 16, 2) and depthwise[-1] == (960, 1, 1)
    assert norms[0] == (32, 16, True) and norms[-2] == (320, 1, False) and norms[-1] == (1280, 1, True)


def test_run_against_a_baseline_commit_writes_rows_for_both(tmp_path):
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=kernel_layers.REPO, capture_output=True,
                          text=True, check=True).stdout.strip()
    out = tmp_path / "layers.csv"
    assert kernel_layers.main(["--resolution", "8", "--batch_size", "2", "--rounds", "2", "--baseline", head, "--out", str(out)]) == 0
    rows = list(csv.DictReader(open(out)))
    totals = [r for r in rows if r["layer"].startswith("all")]
    assert {(r["kernel"], r["library"]) for r in totals} == {(k, lib) for k in ("depthwise", "batchnorm") for lib in ("current", head)}
    assert {r["pass"] for r in totals} == {"forward", "input gradient", "weight gradient", "backward", "inference"}
    assert all(float(r["median_ms"]) > 0 and ";" in r["cpu"] for r in rows)
    assert len(rows) == 2 * (17 * 3 + 52 * 3) + len(totals)


def test_unknown_baseline_is_one_error_line(tmp_path, capsys):
    assert kernel_layers.main(["--baseline", "no-such-commit", "--out", str(tmp_path / "x.csv")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --baseline no-such-commit")
