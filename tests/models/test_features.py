"""features_only: the backbone API of MindCV HEAD, with the classification model's parameter names."""
import json
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest

import mindcv

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("name", ["mobilenet_v2_075", "mobilenet_v2_100", "mobilenet_v2_140"])
def test_feature_info_equals_mindcv_head(name):
    # Recorded by running MindCV's own mobilenetv2.py at HEAD (2025-07-24).
    expected = json.loads((DATA / "mindcv-head_feature_info.json").read_text())[name]
    assert mindcv.create_model(name).feature_info == expected


@pytest.mark.parametrize("mode", [ms.PYNATIVE_MODE, ms.GRAPH_MODE])
def test_out_indices_give_the_stage_maps(mode):
    ms.set_context(mode=mode)
    backbone = mindcv.create_model("mobilenet_v2_100", features_only=True, out_indices=[3, 6, 13, 17])
    assert backbone.out_channels == [24, 32, 96, 320]
    assert [info["reduction"] for info in backbone.feature_info] == [4, 8, 16, 32]
    maps = backbone(ms.Tensor(np.zeros((1, 3, 224, 224), np.float32)))
    assert [m.shape for m in maps] == [(1, 24, 56, 56), (1, 32, 28, 28), (1, 96, 14, 14), (1, 320, 7, 7)]


def test_classification_checkpoint_loads_into_the_features_model(tmp_path):
    classifier = mindcv.create_model("mobilenet_v2_035", num_classes=7)
    classifier.set_train(False)
    path = tmp_path / "classifier.ckpt"
    mindcv.save_checkpoint(classifier, path)

    backbone = mindcv.create_model("mobilenet_v2_035", features_only=True, out_indices=[-1], checkpoint_path=path)
    backbone.set_train(False)
    names = {p.name for p in backbone.get_parameters()}
    assert names == {p.name for p in classifier.get_parameters() if not p.name.startswith("classifier.")}
    x = ms.Tensor(np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32))
    (last,) = backbone(x)
    np.testing.assert_array_equal(last.asnumpy(), classifier.forward_features(x).asnumpy())


def test_bad_out_indices_are_clear_errors():
    with pytest.raises(mindcv.MindCVError, match=r"out of range: the model has 19 feature stages"):
        mindcv.create_model("mobilenet_v2_035", features_only=True, out_indices=[19])
    with pytest.raises(mindcv.MindCVError, match="twice"):
        mindcv.create_model("mobilenet_v2_035", features_only=True, out_indices=[1, -18])
