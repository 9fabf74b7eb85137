from pathlib import Path

import mindspore as ms
import numpy as np
import pytest

import mindcv
from mindcv.models import MobileNetV2, make_divisible, seed_dropout

DATA = Path(__file__).parent / "data"

# REFERENCE.md section 1: (trainable, total or None, MACs in millions at 224).
PAPER_SIZES = {
    "mobilenet_v2_035": (1_677_128, None, 59.3),
    "mobilenet_v2_050": (1_968_680, None, 97.1),
    "mobilenet_v2_075": (2_636_424, 2_663_064, 209.1),
    "mobilenet_v2_100": (3_504_872, 3_538_984, 300.8),
    "mobilenet_v2_130": (5_386_792, None, 509.4),
    "mobilenet_v2_140": (6_108_776, 6_156_712, 582.2),
}


def _read_param_list(path: Path) -> list:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("name", sorted(PAPER_SIZES))
def test_parameter_counts_and_macs_match_the_paper(name):
    trainable, total, macs_m = PAPER_SIZES[name]
    summary = mindcv.model_summary(mindcv.create_model(name), (3, 224, 224))
    assert summary["trainable_params"] == trainable
    if total is not None:
        assert summary["total_params"] == total
    assert round(summary["macs"] / 1e6, 1) == macs_m


@pytest.mark.parametrize("tag", ["075", "100", "140"])
def test_parameter_names_and_shapes_equal_mindcv(tag):
    expected = _read_param_list(DATA / f"mindcv-0.3.0_mobilenet_v2_{tag}.params.txt")
    network = mindcv.create_model(f"mobilenet_v2_{tag}")
    ours = [f"{p.name} {tuple(p.shape)}" for p in network.get_parameters()]
    assert ours == expected


@pytest.mark.parametrize(
    "width, stem, stages, head",
    [
        (0.75, 24, [16, 24, 24, 48, 72, 120, 240], 1280),
        (1.0, 32, [16, 24, 32, 64, 96, 160, 320], 1280),
        (1.4, 48, [24, 32, 48, 88, 136, 224, 448], 1792),
    ],
)
def test_channel_widths_follow_the_reference_table(width, stem, stages, head):
    network = MobileNetV2(width)
    assert network.features[0].out_channels == stem
    block_outputs = [cell.layers[-2].out_channels for cell in network.features.cell_list[3:-3]]
    stage_ends = np.cumsum([1, 2, 3, 4, 3, 3, 1]) - 1
    assert [block_outputs[i] for i in stage_ends] == stages
    assert network.num_features == head


def test_make_divisible_rounding():
    assert make_divisible(32 * 0.35) == 16  # 11.2 rounds to 8, below 90%, so one more step
    assert make_divisible(24 * 0.75) == 24  # 18 rounds half up to 24
    assert make_divisible(1280 * 1.3) == 1664
    assert make_divisible(3) == 8


def test_residual_only_where_shapes_allow():
    network = MobileNetV2(1.0)
    blocks = network.features.cell_list[3:-3]
    assert [b.use_residual for b in blocks] == [
        False, False, True, False, True, True, False, True, True, True, False, True, True, False, True, True, False
    ]


@pytest.mark.parametrize("size", [96, 128, 160, 192, 224])
def test_output_shapes_for_each_resolution(size):
    network = mindcv.create_model(f"mobilenet_v2_100_{size}", num_classes=10)
    network.set_train(False)
    cfg = mindcv.get_pretrained_cfg(f"mobilenet_v2_100_{size}")
    assert cfg.input_size == (3, size, size)
    x = ms.Tensor(np.random.default_rng(0).standard_normal((2, 3, size, size)), ms.float32)
    features = network.forward_features(x)
    assert features.shape == (2, 1280, -(-size // 32), -(-size // 32))
    assert network(x).shape == (2, 10)


def test_uniform_model_api():
    network = mindcv.create_model("mobilenet_v2_035", num_classes=7, in_channels=1, drop_rate=0.5)
    network.set_train(False)
    x = ms.Tensor(np.ones((1, 1, 64, 64)), ms.float32)
    assert network.features[0].in_channels == 1
    assert network(x).shape == (1, 7)
    pooled = network.forward_head(network.forward_features(x), pre_logits=True)
    assert pooled.shape == (1, 1280)
    assert network.get_classifier()[1].out_channels == 7
    assert network.get_classifier()[0].p == 0.5

    network.reset_classifier(3)
    assert network(x).shape == (1, 3)
    assert [p.name for p in network.classifier.get_parameters()] == ["classifier.1.weight", "classifier.1.bias"]
    network.reset_classifier(0)
    assert network(x).shape == (1, 1280)
    assert not list(network.classifier.get_parameters())


def test_dropout_is_active_only_in_training():
    network = mindcv.create_model("mobilenet_v2_035", num_classes=4, drop_rate=0.9)
    x = ms.Tensor(np.random.default_rng(1).standard_normal((2, 3, 32, 32)), ms.float32)
    network.set_train(False)
    first, second = network(x).asnumpy(), network(x).asnumpy()
    np.testing.assert_array_equal(first, second)
    network.set_train(True)
    assert not np.allclose(network(x).asnumpy(), network(x).asnumpy())


def test_initialisation_follows_mindcv():
    network = MobileNetV2(1.0)
    stem = network.features[0].weight.asnumpy()
    expected_std = np.sqrt(2.0 / (3 * 3 * 32))
    assert abs(stem.std() - expected_std) / expected_std < 0.15
    head = network.classifier[1]
    assert abs(head.weight.asnumpy().std() - 0.01) < 0.001
    assert not head.bias.asnumpy().any()
    assert (network.features[1].gamma.asnumpy() == 1).all()


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="width_mult"):
        MobileNetV2(0)
    with pytest.raises(ValueError, match="in_channels"):
        MobileNetV2(1.0, in_channels=0)


@pytest.mark.parametrize("mode", [ms.GRAPH_MODE, ms.PYNATIVE_MODE], ids=["graph", "pynative"])
def test_dropout_masks_depend_on_the_key_alone(mode):
    """seed_dropout(key) before a step makes its masks repeat, whatever ran before (resume needs that)."""
    ms.set_context(mode=mode)
    network = mindcv.create_model("mobilenet_v2_035", num_classes=4, drop_rate=0.5)
    network.set_train(True)
    x = ms.Tensor(np.random.default_rng(1).standard_normal((2, 3, 32, 32)), ms.float32)
    seed_dropout(11)
    first, second = network(x).asnumpy(), network(x).asnumpy()
    assert not np.array_equal(first, second)  # a new mask per call
    seed_dropout(12)
    other = network(x).asnumpy()
    seed_dropout(11)
    np.testing.assert_array_equal(network(x).asnumpy(), first)
    np.testing.assert_array_equal(network(x).asnumpy(), second)
    assert not np.array_equal(other, first)
