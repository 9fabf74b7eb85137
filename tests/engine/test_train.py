"""End-to-end runs of train.py on a tiny image folder."""
import csv
import shutil

import mindspore as ms
import numpy as np
import yaml

import mindcv
import train
from mindcv.config import load_yaml

from engine_helpers import train_args


def _weights(path) -> dict:
    return {k: v.asnumpy() for k, v in ms.load_checkpoint(str(path)).items() if isinstance(v, ms.Parameter)}


def _rows(path) -> list:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_graph_mode_run_writes_checkpoints_logs_and_summary(image_folder, tmp_path, capsys):
    save = tmp_path / "run"
    code = train.main(train_args(image_folder, save, "--mode", "0", "--val_while_train", "--lr", "0.01"))
    assert code == 0
    assert sorted(p.name for p in save.glob("*.ckpt")) == ["best.ckpt", "mobilenet_v2_035-1_4.ckpt", "mobilenet_v2_035-2_4.ckpt"]
    rows = _rows(save / "summary.csv")
    assert [r["epoch"] for r in rows] == ["1", "2"]
    for row in rows:
        assert 0 <= float(row["val_top1"]) <= float(row["val_top5"]) <= 1
        assert float(row["train_loss"]) > 0 and float(row["images_per_second"]) > 0
    best = max(rows, key=lambda r: float(r["val_top1"]))
    assert f"best top-1 {float(best['val_top1']):.4f}" in capsys.readouterr().out
    assert "epoch 2 done" in (save / "train.log").read_text()

    # The checkpoint carries the training state and the resolved config, and loads as plain weights.
    entries = ms.load_checkpoint(str(save / "mobilenet_v2_035-2_4.ckpt"))
    assert int(entries["epoch_num"].asnumpy()) == 2 and int(entries["step_num"].asnumpy()) == 8
    assert int(entries["global_step"].asnumpy()) == 8
    assert yaml.safe_load(entries["config"])["model"] == "mobilenet_v2_035"
    assert any(k.startswith("moments.") for k in entries)
    network = mindcv.create_model("mobilenet_v2_035", num_classes=4, checkpoint_path=save / "best.ckpt")
    assert network.classifier[1].weight.shape == (4, 1280)
    assert load_yaml(str(save / "config.yaml"))["image_resize"] == 32


def test_resumed_run_ends_with_the_weights_of_an_uninterrupted_one(image_folder, tmp_path):
    common = ("--mode", "1", "--epoch_size", "4", "--ema", "--ema_decay", "0.9", "--keep_checkpoint_max", "4")
    assert train.main(train_args(image_folder, tmp_path / "straight", *common)) == 0
    # A run stopped after epoch 2: what it had written by then.
    shutil.copytree(tmp_path / "straight", tmp_path / "resumed")
    for late in ("mobilenet_v2_035-3_4.ckpt", "mobilenet_v2_035-4_4.ckpt"):
        (tmp_path / "resumed" / late).unlink()
    resume_from = tmp_path / "resumed" / "mobilenet_v2_035-2_4.ckpt"
    assert train.main(train_args(image_folder, tmp_path / "resumed", *common, "--ckpt_path", str(resume_from), "--resume_opt", "True")) == 0

    straight = _weights(tmp_path / "straight" / "mobilenet_v2_035-4_4.ckpt")
    resumed = _weights(tmp_path / "resumed" / "mobilenet_v2_035-4_4.ckpt")
    assert straight.keys() == resumed.keys()
    assert any(k.startswith("ema.") for k in straight) and any(k.startswith("moments.") for k in straight)
    for name in straight:
        np.testing.assert_allclose(resumed[name], straight[name], rtol=1e-5, atol=1e-5, err_msg=name)
    resumed_rows, straight_rows = _rows(tmp_path / "resumed" / "summary.csv"), _rows(tmp_path / "straight" / "summary.csv")
    assert [r["epoch"] for r in resumed_rows] == ["1", "2", "3", "4"]
    assert [r["train_loss"] for r in resumed_rows] == [r["train_loss"] for r in straight_rows]


def test_fine_tunes_from_any_checkpoint_name_with_another_head(image_folder, tmp_path):
    source = mindcv.create_model("mobilenet_v2_035", num_classes=10)
    weights = tmp_path / "my weights.ckpt"
    mindcv.save_checkpoint(source, weights)
    args = train_args(image_folder, tmp_path / "tuned", "--mode", "1", "--epoch_size", "1", "--ckpt_path", str(weights))
    assert train.main(args) == 0
    tuned = _weights(tmp_path / "tuned" / "mobilenet_v2_035-1_4.ckpt")
    assert tuned["classifier.1.weight"].shape == (4, 1280)


def test_resume_needs_a_training_checkpoint(image_folder, tmp_path, capsys):
    weights = tmp_path / "plain.ckpt"
    mindcv.save_checkpoint(mindcv.create_model("mobilenet_v2_035", num_classes=4), weights)
    args = train_args(image_folder, tmp_path / "r", "--mode", "1", "--ckpt_path", str(weights), "--resume_opt", "True")
    assert train.main(args) == 2
    assert "plain.ckpt: holds no training state" in capsys.readouterr().err


def test_batch_larger_than_the_data_set_is_an_error(image_folder, tmp_path, capsys):
    assert train.main(train_args(image_folder, tmp_path / "r", "--batch_size", "64")) == 2
    assert "batch_size 64 is larger than the 32 training images" in capsys.readouterr().err


def test_diverging_loss_stops_with_the_step_and_last_checkpoint(image_folder, tmp_path, capsys):
    args = train_args(image_folder, tmp_path / "nan", "--mode", "1", "--lr", "1e30", "--warmup_epochs", "0")
    assert train.main(args) == 2
    err = capsys.readouterr().err
    assert "training stopped" in err and "at epoch 1, step" in err and "last good checkpoint: none yet" in err


def test_diverging_loss_stops_a_dynamic_scale_run_once_the_scale_is_one(image_folder, tmp_path, capsys):
    args = train_args(image_folder, tmp_path / "nan", "--mode", "1", "--lr", "1e30", "--warmup_epochs", "0",
                      "--loss_scale_type", "dynamic", "--loss_scale", "1")
    assert train.main(args) == 2
    assert "training stopped" in capsys.readouterr().err
