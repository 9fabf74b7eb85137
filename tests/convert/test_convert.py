import numpy as np
import pytest
import torch
from safetensors.torch import save_file
from torch_mobilenetv2 import SETTING, TorchMobileNetV2, random_model

import mindspore as ms
from mindcv import CheckpointError, create_model
from mindcv.convert import (
    MINDCV,
    TORCHVISION,
    convert_state_dict,
    convert_weights,
    detect_model,
    layout_names,
    main,
)

NUM_CLASSES = 10
WIDTH_NAMES = {0.35: "mobilenet_v2_035", 0.5: "mobilenet_v2_050", 0.75: "mobilenet_v2_075", 1.0: "mobilenet_v2_100", 1.3: "mobilenet_v2_130", 1.4: "mobilenet_v2_140"}


def timm_state_dict(torchvision_state: dict) -> dict:
    """Rename torchvision keys to timm's mobilenetv2_* names (EfficientNet: conv_stem/bn1,
    blocks.<stage>.<block> of DepthwiseSeparableConv / InvertedResidual, conv_head/bn2, classifier)."""
    modules = {"features.0.0": "conv_stem", "features.0.1": "bn1", "features.18.0": "conv_head", "features.18.1": "bn2", "classifier.1": "classifier"}
    depthwise_separable = {"0.0": "conv_dw", "0.1": "bn1", "1": "conv_pw", "2": "bn2"}
    inverted_residual = {"0.0": "conv_pw", "0.1": "bn1", "1.0": "conv_dw", "1.1": "bn2", "2": "conv_pwl", "3": "bn3"}
    feature = 1
    for stage, (t, _, n, _) in enumerate(SETTING):
        for index in range(n):
            parts = depthwise_separable if t == 1 else inverted_residual
            modules.update({f"features.{feature}.conv.{a}": f"blocks.{stage}.{index}.{b}" for a, b in parts.items()})
            feature += 1
    renamed = {}
    for key, value in torchvision_state.items():
        module, param = key.rsplit(".", 1)
        renamed[f"{modules[module]}.{param}"] = value
    return renamed


def assert_same_logits(torch_model: TorchMobileNetV2, checkpoint, model_name: str) -> None:
    network = create_model(model_name, num_classes=NUM_CLASSES, checkpoint_path=checkpoint)
    network.set_train(False)
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad():
        expected = torch_model(torch.from_numpy(x)).numpy()
    actual = network(ms.Tensor(x)).asnumpy()
    assert expected.std() > 0.3  # logits far from zero, so the tolerance below is meaningful
    np.testing.assert_allclose(actual, expected, rtol=0, atol=1e-4)


def test_mindcv_layout_table_names_every_parameter():
    names = layout_names(MINDCV)
    assert len(names) == len(set(names))
    assert set(names) == set(create_model("mobilenet_v2_100").parameters_dict())


def test_torchvision_layout_table_matches_torchvision_keys():
    keys = [k for k in TorchMobileNetV2(1.0).state_dict() if not k.endswith("num_batches_tracked")]
    assert layout_names(TORCHVISION) == keys  # same order too: forward order


@pytest.mark.parametrize("width", [0.75, 1.0, 1.4])
def test_torchvision_weights_give_the_same_logits(tmp_path, width):
    torch_model = random_model(width, NUM_CLASSES, seed=int(width * 100))
    state = torch_model.state_dict()
    torch.save(state, tmp_path / "tv.pth")
    save_file(state, str(tmp_path / "tv.safetensors"))
    for source, destination in (("tv.pth", "ours.ckpt"), ("tv.safetensors", "ours.safetensors")):
        summary = convert_weights(tmp_path / source, tmp_path / destination)
        assert (summary.layout, summary.model, summary.num_classes) == ("torchvision", WIDTH_NAMES[width], NUM_CLASSES)
        assert len(summary.dropped) == 52  # one BN step counter per BatchNorm
        assert_same_logits(torch_model, tmp_path / destination, WIDTH_NAMES[width])
    # each checkpoint gets its config (one stem, so the .safetensors config replaced the .ckpt one)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ours.ckpt", "ours.safetensors", "ours.yaml", "tv.pth", "tv.safetensors"]


def test_timm_weights_give_the_same_logits_through_the_command_line(tmp_path, capsys):
    torch_model = random_model(0.5, NUM_CLASSES, seed=5)
    save_file(timm_state_dict(torch_model.state_dict()), str(tmp_path / "timm.safetensors"))
    assert main([str(tmp_path / "timm.safetensors"), str(tmp_path / "ours.ckpt")]) == 0
    printed = capsys.readouterr().out
    assert "timm layout" in printed and "mobilenet_v2_050" in printed
    assert_same_logits(torch_model, tmp_path / "ours.ckpt", "mobilenet_v2_050")


@pytest.mark.parametrize("width", sorted(WIDTH_NAMES))
def test_width_is_read_from_the_tensors(width):
    state = {k: v.numpy() for k, v in TorchMobileNetV2(width, NUM_CLASSES).state_dict().items()}
    _, weights, _ = convert_state_dict(state)
    assert detect_model(weights) == WIDTH_NAMES[width]


def test_unknown_layout_names_unmatched_keys(tmp_path, capsys):
    state = {"stem.conv.weight": torch.zeros(8, 3, 3, 3), "head.fc.bias": torch.zeros(10)}
    torch.save(state, tmp_path / "other.pth")
    with pytest.raises(CheckpointError, match=r"known layout.*head\.fc\.bias"):
        convert_weights(tmp_path / "other.pth", tmp_path / "out.ckpt")
    assert main([str(tmp_path / "other.pth"), str(tmp_path / "out.ckpt")]) == 2
    assert "stem.conv.weight" in capsys.readouterr().err
    assert not (tmp_path / "out.ckpt").exists()


def test_extra_blocks_and_wrong_layout_are_refused(tmp_path):
    state = TorchMobileNetV2(1.0, NUM_CLASSES).state_dict()
    state["features.19.conv.2.weight"] = torch.zeros(8, 8, 1, 1)  # e.g. a deeper variant
    torch.save(state, tmp_path / "deeper.pth")
    with pytest.raises(CheckpointError, match=r"features\.19\.conv\.2\.weight"):
        convert_weights(tmp_path / "deeper.pth", tmp_path / "out.ckpt")
    del state["features.19.conv.2.weight"]
    torch.save(state, tmp_path / "tv.pth")
    with pytest.raises(CheckpointError, match="timm layout.*conv_stem"):
        convert_weights(tmp_path / "tv.pth", tmp_path / "out.ckpt", layout="timm")


class NotAWeight:
    pass


def test_pickled_objects_are_refused(tmp_path):
    torch.save({"features.0.0.weight": torch.zeros(1), "payload": NotAWeight()}, tmp_path / "pickled.pth")
    with pytest.raises(CheckpointError, match="weights-only"):
        convert_weights(tmp_path / "pickled.pth", tmp_path / "out.ckpt")


def test_wrong_model_fails_verification_and_keeps_the_old_destination(tmp_path):
    save_file(TorchMobileNetV2(1.4, NUM_CLASSES).state_dict(), str(tmp_path / "wide.safetensors"))
    (tmp_path / "out.ckpt").write_bytes(b"previous")
    with pytest.raises(CheckpointError, match="do not load as mobilenet_v2_100"):
        convert_weights(tmp_path / "wide.safetensors", tmp_path / "out.ckpt", model="mobilenet_v2_100")
    assert (tmp_path / "out.ckpt").read_bytes() == b"previous"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.ckpt", "wide.safetensors"]
