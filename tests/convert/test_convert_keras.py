"""Keras MobileNetV2 weights (legacy .h5 and Keras 3 .weights.h5) against Keras 3 itself."""
import json

import numpy as np
import pytest
from keras_reference import keras_logits, random_keras_mobilenet_v2, save_legacy_h5
from PIL import Image

import mindspore as ms
from mindcv import CheckpointError, create_model
from mindcv.config import parse_config
from mindcv.engine.predict import eval_image_ops, load_image
from tests.engine.evalhelpers import script_main
from mindcv.convert import KERAS, convert_weights, layout_names, main
from mindcv.checkpoint.keras_h5 import read_keras_state_dict

# Odd and even sizes, not square: the stride-2 layers see 33x46 -> 17x23 -> 9x12 -> 5x6 -> 3x3,
# so SAME padding is exercised with 1+1 and 0+1 rows and columns.
INPUT_HW = (33, 46)
WIDTHS = {0.35: "tf_mobilenet_v2_035", 1.0: "tf_mobilenet_v2_100", 1.4: "tf_mobilenet_v2_140"}


@pytest.fixture(autouse=True)
def pynative():
    ms.set_context(mode=ms.PYNATIVE_MODE)  # one forward pass per model: compiling would cost more


def images(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-1, 1, (2, 3, *INPUT_HW)).astype(np.float32)


@pytest.mark.parametrize("width", sorted(WIDTHS))
def test_keras_weights_give_keras_logits_from_both_formats(tmp_path, width):
    classes = 1001 if width == 1.0 else 16  # 1001: TensorFlow's background class, dropped
    keras_model = random_keras_mobilenet_v2(width, (*INPUT_HW, 3), classes, seed=int(width * 100))
    x = images()
    expected = keras_logits(keras_model, x)
    keras_model.save_weights(tmp_path / "k.weights.h5")
    save_legacy_h5(keras_model, tmp_path / "k.h5")
    for source in ("k.weights.h5", "k.h5"):
        destination = tmp_path / f"{source.split('.')[1]}.ckpt"
        summary = convert_weights(tmp_path / source, destination)
        assert (summary.layout, summary.model) == ("keras", WIDTHS[width])
        assert summary.num_classes == (1000 if classes == 1001 else classes)
        assert summary.background_dropped == (classes == 1001)
        network = create_model(summary.model, num_classes=summary.num_classes, checkpoint_path=destination)
        network.set_train(False)
        assert network.features[1].eps == 1e-3 and network.features[0].pad_mode == "same"
        actual = network(ms.Tensor(x)).asnumpy()
        want = expected[:, 1:] if classes == 1001 else expected
        assert want.std() > 0.3  # logits far from zero, so the tolerance is meaningful
        np.testing.assert_allclose(actual, want, rtol=0, atol=1e-4)


def test_keras_layout_names_every_layer_of_the_keras_model(tmp_path):
    keras_model = random_keras_mobilenet_v2(0.5, (32, 32, 3), 10, seed=1)
    save_legacy_h5(keras_model, tmp_path / "k.h5")
    assert set(read_keras_state_dict(tmp_path / "k.h5")) == set(layout_names(KERAS))


def write_images(root, classes=("bag", "coat", "shoe"), per_class=2, seed=0) -> list:
    """root/val/<class>/<i>.png, 120x100 colour ramps with noise; (file, label) in reading order."""
    rng = np.random.default_rng(seed)
    written = []
    for label, name in enumerate(classes):
        (root / "val" / name).mkdir(parents=True)
        for i in range(per_class):
            ramp = rng.uniform(0, 255, 3) * np.linspace(0.2, 1.0, 100)[None, :, None]
            pixels = np.clip(ramp + rng.normal(0, 40, (120, 100, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / "val" / name / f"{i}.png")
            written.append((root / "val" / name / f"{i}.png", label))
    return written


def test_converted_config_validates_as_keras_predicts(tmp_path, capsys):
    """The file name gives the input size; validate.py -c <the written config> scores what Keras predicts."""
    keras_model = random_keras_mobilenet_v2(0.35, (96, 96, 3), 3, seed=2)
    source = tmp_path / "mobilenet_v2_weights_tf_dim_ordering_tf_kernels_0.35_96.h5"
    save_legacy_h5(keras_model, source)
    assert main([str(source), str(tmp_path / "mnv2.ckpt")]) == 0
    out = capsys.readouterr().out
    assert "model tf_mobilenet_v2_035_96, 3 classes" in out and "mnv2.yaml" in out
    cfg = parse_config(["-c", str(tmp_path / "mnv2.yaml")])
    assert (cfg.model.model, cfg.model.num_classes, cfg.eval.image_resize) == ("tf_mobilenet_v2_035_96", 3, 96)
    assert cfg.eval.mean == [127.5] * 3 and cfg.eval.std == [127.5] * 3 and cfg.model.ckpt_path == str(tmp_path / "mnv2.ckpt")

    written = write_images(tmp_path / "data")
    results = tmp_path / "results.json"
    argv = ["-c", str(tmp_path / "mnv2.yaml"), "--data_dir", str(tmp_path / "data"), "--device_target", "CPU", "--mode", "1",
            "--num_parallel_workers", "1", "--batch_size", "4", "--results_file", str(results), "--confusion_matrix",
            str(tmp_path / "cm.png")]
    assert script_main("validate.py")(argv) == 0
    ops = eval_image_ops("imagenet", cfg.eval)
    images = np.stack([load_image(file, ops) for file, _ in written])
    predicted = keras_logits(keras_model, images).argmax(axis=1)
    assert len(set(predicted)) > 1  # predictions that differ by image, so the matrix tests something
    expected = np.zeros((3, 3), int)
    np.add.at(expected, ([label for _, label in written], predicted), 1)
    assert json.loads(results.read_text())["confusion_matrix"] == expected.tolist()


def test_foreign_and_missing_files_are_one_error_line(tmp_path, capsys):
    (tmp_path / "text.h5").write_text("not hdf5")
    assert main([str(tmp_path / "text.h5"), str(tmp_path / "out.ckpt")]) == 2
    assert main([str(tmp_path / "absent.weights.h5"), str(tmp_path / "out.ckpt")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and all(line.startswith("error: ") for line in err)
    assert "text.h5: not a readable HDF5 file" in err[0] and "absent.weights.h5: file not found" in err[1]
    with pytest.raises(CheckpointError, match="without Keras weights"):
        import h5py

        with h5py.File(tmp_path / "empty.h5", "w") as file:
            file["x"] = np.zeros(3)
        read_keras_state_dict(tmp_path / "empty.h5")
    assert not (tmp_path / "out.ckpt").exists()
