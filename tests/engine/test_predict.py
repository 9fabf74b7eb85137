import json

import numpy as np
import pytest
from evalhelpers import MODEL, make_checkpoint, reference_logits, run_script, script_main, use_cpu_pynative, write_folder

from mindcv.config import parse_config
from mindcv.data import CIFAR10_CLASSES, fashion_mnist_class_names
from mindcv.engine.labels import imagenet_class_names, load_label_names
from mindcv.engine.predict import INFER_OPTIONS, resolve_label_names
from mindcv.errors import ConfigError

main = script_main("infer.py")


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    use_cpu_pynative()  # this fixture runs before the per-test one of conftest.py
    root = tmp_path_factory.mktemp("infer")
    files = [file for file, _ in write_folder(root / "data")]
    checkpoint = make_checkpoint(root / "net3.ckpt", 3, files, seed=2)
    return {"root": root, "files": files, "ckpt": checkpoint, "logits": reference_logits(checkpoint, 3, files)}


def infer_argv(checkpoint, *extra: str) -> list:
    return [
        "--model", MODEL, "--num_classes", "3", "--ckpt_path", str(checkpoint), "--image_resize", "32",
        "--device_target", "CPU", "--mode", "1", *extra,
    ]


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_predictions_match_the_network_and_the_json_output(setup, tmp_path, capsys):
    out = tmp_path / "predictions.json"
    folder = setup["root"] / "data" / "val"
    argv = infer_argv(setup["ckpt"], "--input", str(folder), "--topk", "2", "--batch_size", "3", "--output", str(out))
    assert main(argv) == 0
    report = json.loads(out.read_text())
    probabilities = softmax(setup["logits"])
    assert [p["file"] for p in report["predictions"]] == [str(f) for f in setup["files"]]
    for prediction, expected in zip(report["predictions"], probabilities):
        ranked = np.argsort(-expected)[:2]
        assert [t["index"] for t in prediction["topk"]] == ranked.tolist()
        assert [t["name"] for t in prediction["topk"]] == [str(i) for i in ranked]  # no names known: indices
        # batch size changes the float32 summation order: logits move by ~1e-4
        assert [t["probability"] for t in prediction["topk"]] == pytest.approx(expected[ranked].tolist(), abs=1e-3)
    assert (report["model"], report["checkpoint"], report["label_names"]) == (MODEL, str(setup["ckpt"]), "class indices")
    assert (report["image_resize"], report["crop_pct"], report["skipped"]) == (32, 0.875, [])
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == ["image", "top-1", "top-2"]
    assert table[1].startswith(str(setup["files"][0])) and len(table) == 1 + len(setup["files"]) + 1  # + "wrote ..."


def test_label_names_file_and_topk_larger_than_the_classes(setup, tmp_path):
    names = tmp_path / "names.txt"
    names.write_text("red ant\nhoney bee\ntabby cat\n")
    out = tmp_path / "p.json"
    assert main(infer_argv(setup["ckpt"], "--input", str(setup["files"][0]), "--label_names", str(names), "--output", str(out))) == 0
    prediction = json.loads(out.read_text())["predictions"][0]
    assert len(prediction["topk"]) == 3  # topk 5 of 3 classes
    best = int(setup["logits"][0].argmax())
    assert prediction["topk"][0]["name"] == ["red ant", "honey bee", "tabby cat"][best]


def test_unreadable_image_is_named_or_skipped(setup, tmp_path, capsys):
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not an image")
    assert main(infer_argv(setup["ckpt"], "--input", str(setup["files"][0]), str(bad))) == 2
    assert f"{bad}: cannot read this image" in capsys.readouterr().err
    out = tmp_path / "p.json"
    assert main(infer_argv(setup["ckpt"], "--input", str(bad), str(setup["files"][0]), "--skip_bad", "True", "--output", str(out))) == 0
    report = json.loads(out.read_text())
    assert [p["file"] for p in report["predictions"]] == [str(setup["files"][0])]
    assert report["skipped"][0]["file"] == str(bad) and "cannot read" in report["skipped"][0]["error"]


def test_input_errors(setup, tmp_path, capsys):
    assert main(infer_argv(setup["ckpt"], "--input", str(tmp_path / "missing.jpg"))) == 2
    assert "missing.jpg: no such image file or folder" in capsys.readouterr().err
    assert main(infer_argv(setup["ckpt"])) == 2
    assert "config key 'input'" in capsys.readouterr().err
    assert main(infer_argv(setup["ckpt"], "--input", str(setup["files"][0]), "--num_classes", "5")) == 2
    assert "num_classes mismatch" in capsys.readouterr().err


def test_imagenet_class_names_file():
    names = imagenet_class_names()
    assert len(names) == 1000
    assert names[:3] == ["tench", "goldfish", "great white shark"]
    assert (names[207], names[281], names[409], names[954], names[999]) == (
        "golden retriever", "tabby", "analog clock", "banana", "toilet tissue"
    )
    assert load_label_names("imagenet", 1000) == names
    with pytest.raises(ConfigError, match="has 1000 names but num_classes is 10"):
        load_label_names("imagenet", 10)


def test_default_label_names(setup):
    def names(*argv):
        return resolve_label_names(parse_config(list(argv), extra_options=INFER_OPTIONS))

    assert names() == (imagenet_class_names(), "imagenet")  # the model's pretrained config
    assert names("--dataset", "fashion_mnist", "--num_classes", "10") == (fashion_mnist_class_names(), "dataset fashion_mnist")
    assert names("--dataset", "cifar10", "--num_classes", "10")[0] == list(CIFAR10_CLASSES)
    assert names("--data_dir", str(setup["root"] / "data"), "--num_classes", "3")[0] == ["ant", "bee", "cat"]
    assert names("--num_classes", "4") == (["0", "1", "2", "3"], "class indices")
    assert names("--label_names", "cifar10", "--num_classes", "10")[0] == list(CIFAR10_CLASSES)
    with pytest.raises(ConfigError, match="neither a file nor one of"):
        names("--label_names", "no_such_names.txt")


def test_eval_settings_come_from_the_pretrained_config_unless_set():
    cfg = parse_config(["--model", "mobilenet_v2_035_96"], extra_options=INFER_OPTIONS)
    assert cfg.eval.image_resize == cfg.augmentation.image_resize == 96
    cfg = parse_config(["--model", "mobilenet_v2_035_96", "--image_resize", "64", "--crop_pct", "1.0"], extra_options=INFER_OPTIONS)
    assert (cfg.eval.image_resize, cfg.eval.crop_pct) == (64, 1.0)


def test_cli_in_a_subprocess_graph_mode(setup):
    argv = infer_argv(setup["ckpt"], "--input", *map(str, setup["files"][:2]), "--batch_size", "2", "--topk", "1")
    argv[argv.index("--mode") + 1] = "0"
    run = run_script("infer.py", *argv)
    assert run.returncode == 0, run.stderr
    rows = [line.split() for line in run.stdout.splitlines()[1:]]
    expected = setup["logits"][:2].argmax(axis=1)
    assert [(row[0], row[1]) for row in rows] == [(str(f), str(i)) for f, i in zip(setup["files"][:2], expected)]
