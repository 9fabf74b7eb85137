"""export.py --quantize int8: static int8 quantization of the ONNX export with onnxruntime."""
import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from PIL import Image
from random_network import IMAGE_SHAPE, MODEL, NUM_CLASSES
from test_export import run_cli

from mindcv import save_checkpoint
from mindcv.config import EvalConfig
from mindcv.deploy import export_network, load_exported
from mindcv.deploy.quantize import CALIBRATION_METHODS, quantize_onnx, top1_agreement
from mindcv.engine.quantization import calibration_images

pytest.importorskip("onnxruntime")
SIZE = IMAGE_SHAPE[-1]


def eval_settings(crop_pct: float = 0.875, mean=(127.5,) * 3, std=(127.5,) * 3) -> EvalConfig:
    return EvalConfig(image_resize=SIZE, crop_pct=crop_pct, interpolation="bilinear", mean=list(mean), std=list(std))


@pytest.fixture(scope="module")
def calib_root(tmp_path_factory):
    """calib/train/<class>/<i>.png: smooth colour images with noise, 4 per class."""
    root = tmp_path_factory.mktemp("calib")
    rng = np.random.default_rng(0)
    for name in ("a", "b", "c"):
        (root / "train" / name).mkdir(parents=True)
        for i in range(4):
            ramp = rng.uniform(0, 255, 3) * np.linspace(0.2, 1.0, SIZE)[:, None, None]
            pixels = np.clip(ramp + rng.normal(0, 30, (SIZE, SIZE, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / "train" / name / f"{i}.png")
    return root


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_cli_writes_a_checked_int8_model(tmp_path, network, calib_root):
    save_checkpoint(network, tmp_path / "w.ckpt")
    code, out, err = run_cli(
        "--model", MODEL, "--ckpt_path", str(tmp_path / "w.ckpt"), "--num_classes", str(NUM_CLASSES), "--image_resize", str(SIZE),
        "--onnx_batch_size", "5", "--format", "onnx", "--output", str(tmp_path / "net"), "--check",
        "--quantize", "int8", "--calib_data", str(calib_root), "--calib_samples", "10",
    )
    assert code == 0, err
    assert "minmax calibration on 10 images" in out and "top-1 agreement with the float model on the calibration images" in out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.int8.onnx", "net.onnx", "w.ckpt"]  # no temporary files left

    model = onnx.load(str(tmp_path / "net.int8.onnx"))
    ops = [node.op_type for node in model.graph.node]
    assert "BatchNormalization" not in ops and ops.count("Conv") == 52 and ops.count("DequantizeLinear") > 52
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    weights = [n for n in model.graph.node if n.op_type == "DequantizeLinear" and initializers.get(n.input[0], np.zeros(0)).ndim == 4]
    # every conv weight but the stem's (kept float): int8, one scale per output channel, zero point 0 (symmetric)
    stem = next(n for n in model.graph.node if n.op_type == "Conv" and n.input[0] == model.graph.input[0].name)
    assert len(weights) == 51 and initializers[stem.input[1]].dtype == np.float32
    for node in weights:
        values, scale, zero = (initializers[name] for name in node.input)
        assert values.dtype == np.int8 and scale.shape == (values.shape[0],) and not zero.any()
    # the int8 model computes nearly what the float one does, at the float file's static batch
    float_model, int8_model = load_exported(tmp_path / "net.onnx"), load_exported(tmp_path / "net.int8.onnx")
    assert int8_model.batch_size == 5
    images = calibration_images(str(calib_root), "train", 12, eval_settings(crop_pct=1.0))
    expected, actual = float_model(images), int8_model(images)
    assert np.abs(actual - expected).max() < 0.25 * np.abs(expected).max()  # 52 random layers; a trained net does better
    agree, total = top1_agreement(float_model, int8_model, images)
    assert total == 12 and agree >= 9


def activation_scales(path) -> dict:
    model = onnx.load(str(path))
    initializers = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    return {n.input[0]: float(initializers[n.input[1]]) for n in model.graph.node
            if n.op_type == "QuantizeLinear" and initializers[n.input[1]].size == 1}


def test_calibration_methods_give_their_own_ranges(tmp_path, network, calib_root):
    path = export_network(network, tmp_path / "net", "onnx", IMAGE_SHAPE, batch_size=1)
    images = calibration_images(str(calib_root), "", 6, eval_settings())
    float_out = load_exported(path)(images)
    scales = {}
    for method in CALIBRATION_METHODS:
        written = quantize_onnx(load_exported(path), images, tmp_path / f"{method}.onnx", method=method)
        assert np.abs(load_exported(written)(images) - float_out).max() < 0.3 * np.abs(float_out).max()
        scales[method] = activation_scales(written)
    # Entropy and percentile clip outliers: never a wider range than the observed one, narrower for many
    # tensors (not those that ReLU6 bounds by 6 anyway).
    for method in ("entropy", "percentile"):
        ratios = np.array([scales[method][name] / scales["minmax"][name] for name in scales["minmax"]])
        assert (ratios <= 1 + 1e-6).all() and (ratios < 1 - 1e-4).sum() >= 5, method


def test_calibration_spreads_over_the_sorted_files(calib_root):
    images = calibration_images(str(calib_root), "train", 3, eval_settings(crop_pct=1.0, mean=(0, 0, 0), std=(1, 1, 1)))
    spread = [np.asarray(Image.open(calib_root / "train" / n / f).convert("RGB"), np.float32)
                     for n, f in (("a", "0.png"), ("b", "2.png"), ("c", "3.png"))]  # files 0, 6, 11 of 12
    np.testing.assert_allclose(images, np.stack(spread).transpose(0, 3, 1, 2))


def test_bad_calibration_input_is_one_error_line_before_anything_is_written(tmp_path, calib_root):
    base = ("--model", MODEL, "--num_classes", str(NUM_CLASSES), "--image_resize", str(SIZE), "--format", "onnx",
            "--output", str(tmp_path / "out" / "net"), "--quantize", "int8")
    (tmp_path / "bad" / "train").mkdir(parents=True)
    (tmp_path / "bad" / "train" / "broken.png").write_text("not an image")
    (tmp_path / "empty" / "train").mkdir(parents=True)
    cases = {
        (): "config key 'calib_data'",
        ("--calib_data", str(tmp_path / "absent")): "absent/train: calibration folder not found",
        ("--calib_data", str(tmp_path / "empty")): "empty/train: holds no image files",
        ("--calib_data", str(tmp_path / "bad")): "broken.png: cannot read this image",
        ("--calib_data", str(calib_root), "--format", "mindir"): "quantizes the BatchNorm-folded ONNX export",
        ("--calib_data", str(calib_root), "--fold_bn", "False"): "quantizes the BatchNorm-folded ONNX export",
        ("--calib_data", str(calib_root), "--calib_samples", "0"): "calib_samples",
        ("--calib_data", str(calib_root), "--calib_method", "kl"): "calib_method",
    }
    for extra, message in cases.items():
        code, _, err = run_cli(*base, *extra)
        assert code == 2 and message in one_error_line(err)
    assert not (tmp_path / "out").exists()


def test_export_of_a_foreign_checkpoint_is_one_error_line(tmp_path):
    (tmp_path / "text.ckpt").write_text("not a checkpoint")
    code, _, err = run_cli("--model", MODEL, "--ckpt_path", str(tmp_path / "text.ckpt"), "--output", str(tmp_path / "net"))
    assert code == 2 and "text.ckpt: not a readable ckpt checkpoint" in one_error_line(err)
    assert not (tmp_path / "net.mindir").exists()
