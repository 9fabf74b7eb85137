import contextlib
import importlib.util
import io
from pathlib import Path

import onnx
import pytest
from random_network import IMAGE_SHAPE, MODEL, NUM_CLASSES

from mindcv import save_checkpoint
from mindcv.config import parse_config
from mindcv.engine.exporting import EXPORT_OPTIONS
from mindcv.deploy import check_exported, export_network
from mindcv.kernels import kernel_available

ROOT = Path(__file__).resolve().parents[2]


def load_entry_point():
    spec = importlib.util.spec_from_file_location("export_entry_point", ROOT / "export.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_cli(*argv: str):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = load_entry_point().main(list(argv))
    return code, out.getvalue(), err.getvalue()


def onnx_ops(path: Path) -> set:
    return {node.op_type for node in onnx.load(str(path)).graph.node}


def test_cli_exports_both_formats_folded_and_checked(tmp_path, network):
    pytest.importorskip("onnxruntime")
    save_checkpoint(network, tmp_path / "weights.ckpt")
    code, out, _ = run_cli(
        "--model", MODEL, "--ckpt_path", str(tmp_path / "weights.ckpt"), "--num_classes", str(NUM_CLASSES),
        "--image_resize", str(IMAGE_SHAPE[-1]), "--onnx_batch_size", "2", "--format", "both", "--output", str(tmp_path / "net"), "--check",
    )
    assert code == 0, out
    # MINDIR checked at batch 1 and 3 (dynamic), ONNX at its static batch 2.
    assert [line.split(":")[0].strip() for line in out.splitlines() if "max abs diff" in line] == ["batch 1", "batch 3", "batch 2"]
    assert out.count(" ok") == 3
    assert sorted(p.name for p in tmp_path.iterdir()) == ["net.mindir", "net.onnx", "weights.ckpt"]  # no temp files left

    model = onnx.load(str(tmp_path / "net.onnx"))
    assert model.opset_import[0].version == 11
    assert [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim] == [2, *IMAGE_SHAPE]
    assert "BatchNormalization" not in onnx_ops(tmp_path / "net.onnx")
    assert b"BatchNorm" not in (tmp_path / "net.mindir").read_bytes()

    # The check compares with the network, not with itself: another network fails it.
    for result in check_exported(network, tmp_path / "net.mindir", IMAGE_SHAPE, (3,)):
        assert result.ok and result.max_abs_output > 1.0
    network.classifier[1].bias.set_data(network.classifier[1].bias + 1e-3)
    assert not any(r.ok for r in check_exported(network, tmp_path / "net.mindir", IMAGE_SHAPE, (1, 3)))


def test_unfolded_export_keeps_batchnorm_and_agrees(tmp_path, network):
    pytest.importorskip("onnxruntime")
    path = export_network(network, tmp_path / "plain", "onnx", IMAGE_SHAPE, batch_size=1)
    assert path == tmp_path / "plain.onnx"
    assert "BatchNormalization" in onnx_ops(path)
    (result,) = check_exported(network, path, IMAGE_SHAPE, (1,))
    assert result.ok and result.max_abs_diff <= 1e-5 * result.max_abs_output


def test_exports_hold_standard_operators_only(tmp_path, network):
    """mindcv's C++ depthwise kernel speeds up the network on the CPU, never the exported files."""
    if not kernel_available():
        pytest.skip("no C++ compiler: the network has no custom kernels to leave out")
    assert any(getattr(cell, "custom_kernel", False) for _, cell in network.cells_and_names())
    onnx_path = export_network(network, tmp_path / "plain", "onnx", IMAGE_SHAPE, batch_size=1)
    assert "Custom" not in onnx_ops(onnx_path)
    mindir_path = export_network(network, tmp_path / "plain", "mindir", IMAGE_SHAPE)
    assert b"Custom" not in mindir_path.read_bytes() and b"depthwise_conv" not in mindir_path.read_bytes()
    assert all(r.ok for r in check_exported(network, mindir_path, IMAGE_SHAPE, (2,)))


def test_export_reads_the_training_config(tmp_path, network):
    """-c CONFIG describes the model as training did: classes, channels and image_resize come from it."""
    save_checkpoint(network, tmp_path / "weights.ckpt")
    config = tmp_path / "run.yaml"
    config.write_text(f"model: {MODEL}\nnum_classes: {NUM_CLASSES}\nin_channels: {IMAGE_SHAPE[0]}\nimage_resize: {IMAGE_SHAPE[-1]}\n")
    code, out, err = run_cli("-c", str(config), "--ckpt_path", str(tmp_path / "weights.ckpt"), "--output", str(tmp_path / "net"),
                             "--fold_bn", "False")
    assert code == 0, err
    assert f"input {IMAGE_SHAPE}, BatchNorm kept" in out
    options = parse_config(["--fold_bn", "no", "--check"], extra_options=EXPORT_OPTIONS).options
    assert options["fold_bn"] is False and options["check"] is True


def test_cli_reports_a_missing_checkpoint(tmp_path):
    code, _, err = run_cli("--model", MODEL, "--ckpt_path", str(tmp_path / "absent.ckpt"), "--output", str(tmp_path / "net"))
    assert code == 2 and "absent.ckpt" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("size", [32, 33])  # SAME pads 0 + 1 on even sizes, 1 + 1 on odd ones
def test_tensorflow_same_padding_exports_and_agrees(tmp_path, size):
    """tf_ models (pad_type='same'): the exported files pad as the network does, BatchNorm folded."""
    pytest.importorskip("onnxruntime")
    from random_network import random_network

    from mindcv.deploy import fold_batchnorm

    network = random_network(model="tf_mobilenet_v2_050")
    shape = (3, size, size)
    for file_format in ("onnx", "mindir"):
        path = export_network(fold_batchnorm(network), tmp_path / f"tf{size}", file_format, shape, batch_size=2)
        (result,) = check_exported(network, path, shape, (2,))
        assert result.ok and result.max_abs_output > 1.0, result
    # against the network with symmetric padding the same file fails: the check sees the padding
    symmetric = random_network(model="mobilenet_v2_050")
    assert not check_exported(symmetric, path, shape, (2,))[0].ok
