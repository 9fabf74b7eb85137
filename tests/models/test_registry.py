import pytest

import mindcv

MINDCV_NAMES = ["mobilenet_v2_140", "mobilenet_v2_130_224", "mobilenet_v2_100", "mobilenet_v2_075"] + [
    f"mobilenet_v2_{w}_{r}" for w in ("100", "075", "050", "035") for r in (224, 192, 160, 128, 96)
]


def test_every_mindcv_name_is_registered():
    for name in MINDCV_NAMES:
        assert mindcv.is_model(name), name
    assert set(MINDCV_NAMES) <= set(mindcv.list_models())


def test_list_models_filters():
    assert mindcv.list_models("mobilenet_v2_1??") == ["mobilenet_v2_100", "mobilenet_v2_130", "mobilenet_v2_140"]
    assert mindcv.list_models(["mobilenet_v2_*_96", "mobilenet_v2_*_128"]) == sorted(
        f"mobilenet_v2_{w}_{r}" for w in ("035", "050", "075", "100") for r in (96, 128)
    )
    assert "mobilenet_v2_100_96" not in mindcv.list_models("mobilenet_v2_100*", exclude_filters="*_96")
    assert mindcv.list_models(pretrained=True) == [
        "mobilenet_v2_075", "mobilenet_v2_075_224", "mobilenet_v2_100", "mobilenet_v2_100_224", "mobilenet_v2_140"
    ]
    assert mindcv.list_models("resnet*") == []


def test_pretrained_configs():
    cfg = mindcv.get_pretrained_cfg("mobilenet_v2_100")
    assert cfg.url.endswith("mobilenet_v2_100-d5532038.ckpt")
    assert cfg.input_size == (3, 224, 224) and cfg.crop_pct == 0.875 and cfg.interpolation == "bilinear"
    assert cfg.first_conv == "features.0" and cfg.classifier == "classifier.1"
    assert cfg.num_classes == 1000
    assert mindcv.get_pretrained_cfg("mobilenet_v2_075_160").input_size == (3, 160, 160)
    assert mindcv.get_pretrained_cfg("mobilenet_v2_075_160").url == ""


def test_unknown_model_suggests_close_names():
    with pytest.raises(mindcv.MindCVError, match="did you mean .*'mobilenet_v2_100'"):
        mindcv.create_model("mobilenet_v2_10")
    with pytest.raises(mindcv.MindCVError, match="unknown model 'resnet50'"):
        mindcv.model_entrypoint("resnet50")


def test_register_model_rejects_duplicates():
    with pytest.raises(ValueError, match="registered twice"):
        mindcv.register_model(lambda **kw: None, "mobilenet_v2_100")


def test_version():
    assert mindcv.__version__.count(".") == 2


def test_tf_variants_pad_same_with_keras_batchnorm_and_inputs():
    """timm-style tf_ names for TensorFlow/Keras weights: the same network and parameter names."""
    assert mindcv.list_models("tf_mobilenet_v2_1??") == ["tf_mobilenet_v2_100", "tf_mobilenet_v2_130", "tf_mobilenet_v2_140"]
    assert mindcv.list_models("tf_*", pretrained=True) == []
    cfg = mindcv.get_pretrained_cfg("tf_mobilenet_v2_075_160")
    assert cfg.input_size == (3, 160, 160) and cfg.mean == cfg.std == (127.5, 127.5, 127.5)
    tf_net = mindcv.create_model("tf_mobilenet_v2_050")
    plain = mindcv.create_model("mobilenet_v2_050")
    assert {n: p.shape for n, p in tf_net.parameters_and_names()} == {n: p.shape for n, p in plain.parameters_and_names()}
    convs = [c for _, c in tf_net.cells_and_names() if hasattr(c, "pad_mode")]
    assert len(convs) == 52 and {c.pad_mode for c in convs} == {"same"}
    assert all(c.eps == 1e-3 for _, c in tf_net.cells_and_names() if type(c).__name__ == "BatchNormAct2d")
    # Call options still override the family's.
    assert mindcv.create_model("tf_mobilenet_v2_050", pad_type="", bn_eps=1e-5).features[0].pad_mode == "pad"
