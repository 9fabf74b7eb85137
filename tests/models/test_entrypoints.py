"""MindCV's entry-point functions: every registered name importable from mindcv.models, with MindCV's signature."""
import inspect

import pytest

import mindcv
import mindcv.models


def test_mindcv_style_imports():
    from mindcv.models import mobilenet_v2_035_96, mobilenet_v2_100, mobilenet_v2_140

    assert mindcv.model_entrypoint("mobilenet_v2_100") is mobilenet_v2_100
    assert mobilenet_v2_140.__name__ == "mobilenet_v2_140" and mobilenet_v2_035_96.__module__ == "mindcv.models.mobilenetv2"
    assert "mobilenet_v2_035_96" in mindcv.models.__all__


@pytest.mark.parametrize("name", mindcv.list_models())
def test_every_entrypoint_has_mindcv_signature_and_builds(name):
    entrypoint = mindcv.model_entrypoint(name)
    assert getattr(mindcv.models, name) is entrypoint
    parameters = inspect.signature(entrypoint).parameters
    assert [(p.name, p.default) for p in list(parameters.values())[:3]] == [("pretrained", False), ("num_classes", 1000), ("in_channels", 3)]
    assert entrypoint.__doc__ and "\n" not in entrypoint.__doc__.strip()
    network = entrypoint(pretrained=False, num_classes=10, in_channels=1)
    assert network.features[0].weight.shape[1] == 1 and network.classifier[1].weight.shape[0] == 10
    assert network.pretrained_cfg is mindcv.get_pretrained_cfg(name)


def test_entrypoint_passes_network_options():
    network = mindcv.models.mobilenet_v2_050(num_classes=3, drop_rate=0.5)
    assert network.classifier[0].p == 0.5
