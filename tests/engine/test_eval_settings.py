"""One source of evaluation settings: a resolution name's size reaches validate.py and infer.py alike."""
import json

from evalhelpers import write_folder

import infer
import validate
from mindcv.config import available_cpus, parse_config
from mindcv.engine.exporting import EXPORT_OPTIONS

MODEL = "mobilenet_v2_035_96"  # a resolution name: its pretrained config says 96 px


def test_validate_and_infer_run_at_the_models_resolution_with_default_workers(tmp_path, caplog):
    write_folder(tmp_path)
    common = ["--model", MODEL, "--num_classes", "3", "--data_dir", str(tmp_path), "--mode", "1"]
    results, predictions = tmp_path / "results.json", tmp_path / "predictions.json"
    # num_parallel_workers keeps its default of 8: more than this machine's CPUs is capped, not a crash.
    assert validate.main(common + ["--val_batch_size", "4", "--results_file", str(results)]) == 0
    assert infer.main(common + ["--input", str(tmp_path / "val"), "--output", str(predictions), "--topk", "1"]) == 0
    assert json.loads(results.read_text())["image_resize"] == 96
    assert json.loads(predictions.read_text())["image_resize"] == 96
    if available_cpus() < 8:
        assert f"num_parallel_workers 8 is more than the {available_cpus()} CPUs available" in caplog.text


def test_export_takes_the_same_size_and_an_explicit_key_wins():
    assert parse_config(["--model", MODEL], extra_options=EXPORT_OPTIONS).eval.image_resize == 96
    cfg = parse_config(["--model", MODEL, "--image_resize", "64", "--interpolation", "bicubic"])
    assert (cfg.eval.image_resize, cfg.eval.interpolation, cfg.augmentation.image_resize) == (64, "bicubic", 64)
    assert parse_config(["--model", "mobilenet_v2_100"]).eval.image_resize == 224
