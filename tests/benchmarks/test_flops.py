"""FLOPs of the train step (benchmarks/flops.py), the fp32 peak, and their table in summary.md."""
import pytest

torch = pytest.importorskip("torch")

from torch.utils.flop_counter import FlopCounterMode  # noqa: E402

from benchmarks import flops, report  # noqa: E402
from benchmarks.torch_mobilenetv2 import TorchMobileNetV2  # noqa: E402


def _backward_flops(conv: torch.nn.Conv2d, custom: bool) -> int:
    mapping = {torch.ops.aten.convolution_backward: flops._conv_backward_flops} if custom else {}
    x = torch.randn(2, conv.in_channels, 10, 10, requires_grad=True)
    with FlopCounterMode(display=False, custom_mapping=mapping) as counter:
        conv(x).sum().backward()
    return counter.get_flop_counts()["Global"][torch.ops.aten.convolution_backward]


def test_conv_backward_counts_two_forward_passes_also_when_grouped():
    dense = torch.nn.Conv2d(8, 16, 3, padding=1)
    assert _backward_flops(dense, custom=True) == _backward_flops(dense, custom=False) == 2 * 2 * 2 * 100 * 16 * 8 * 9
    depthwise = torch.nn.Conv2d(16, 16, 3, padding=1, groups=16)
    forward = 2 * 2 * 100 * 16 * 9  # 2 FLOPs x batch 2 x 10x10 outputs x 16 channels x 9 taps
    assert _backward_flops(depthwise, custom=True) == 2 * forward
    assert _backward_flops(depthwise, custom=False) > 2 * forward  # torch's own formula counts it as dense


def test_train_step_is_about_three_forward_passes():
    train = flops.train_gflop_per_image("mobilenet_v2_100", 32)
    network = TorchMobileNetV2(1.0, 1000).eval()
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        network(torch.randn(1, 3, 32, 32))
    forward = counter.get_total_flops() / 1e9
    # Backward: input and weight gradients, except the first convolution's input gradient (images need none).
    assert 2.8 * forward < train < 3.0 * forward
    # 4x the pixels: the convolutions' work grows 4x, the classifier's stays.
    assert 3.3 * train < flops.train_gflop_per_image("mobilenet_v2_100", 64) < 4 * train


def test_peak_and_rows_against_a_matmul():
    per_cycle, isa = flops.fp32_flops_per_cycle()
    assert per_cycle in (8, 16, 32, 64) and isa
    mhz, source = flops.clock_mhz()
    assert mhz > 0 and source != "unknown"
    assert flops.peak_gflops(1) == pytest.approx(mhz / 1000 * per_cycle)
    rows = flops.flops_rows([{"model": "mobilenet_v2_100", "batch_size": "32", "resolution": "32", "impl": "mindcv",
                              "value": "100.0", "threads": "1", "cpu": "x"},
                             {"model": "tf_mobilenet_v2_100", "resolution": "32", "value": "1.0"}], 1)
    assert len(rows) == 1  # the replica covers the mobilenet_v2_XXX widths only
    row = rows[0]
    assert row["achieved_gflops"] == pytest.approx(100 * row["gflop_per_image"], abs=0.01)
    assert row["matmul_gflops"] > 0 and row["percent_of_peak"] == pytest.approx(100 * row["achieved_gflops"] / row["peak_gflops"], abs=0.01)
    table = report.gflops_table([{k: str(v) for k, v in row.items()}])
    assert f"= {row['peak_gflops']} GFLOP/s" in table
    assert f"| mobilenet_v2_100 | 32 | 32 | {row['gflop_per_image']} | {report._format(row['achieved_gflops'])} (" in table
