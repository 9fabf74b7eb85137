"""Every shipped YAML parses and builds its model, loss, optimizer and LR schedule."""
from pathlib import Path

import pytest

import mindcv
from mindcv.config import parse_config
from mindcv.engine import builders

CONFIGS = sorted((Path(__file__).resolve().parents[2] / "configs").rglob("*.yaml"))
STEPS_PER_EPOCH = 625  # ImageNet at a global batch of 2048


def test_configs_exist_for_every_width_and_device():
    names = {path.name for path in CONFIGS}
    for width in ("075", "100", "140"):
        for device in ("ascend", "gpu", "cpu"):
            assert f"mobilenetv2_{width}_{device}.yaml" in names


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_config_builds_model_loss_optimizer_and_schedule(path):
    # No download here: published weights are replaced by a fresh network.
    cfg = parse_config(["-c", str(path), "--pretrained", "False"])
    network = builders.build_model(cfg.model)
    assert network.num_classes == cfg.model.num_classes
    assert mindcv.get_pretrained_cfg(cfg.model.model).input_size[0] == cfg.model.in_channels
    loss = builders.build_loss(cfg)
    lrs = builders.build_lr_schedule(cfg, STEPS_PER_EPOCH)
    assert len(lrs) == STEPS_PER_EPOCH * cfg.train.epoch_size
    assert max(lrs) == pytest.approx(cfg.scheduler.lr)
    optimizer = builders.build_optimizer(cfg.optimizer, network, lrs)
    assert len(optimizer.parameters) == len(network.trainable_params())
    assert loss is not None


@pytest.mark.parametrize("device, processes, batch", [("ascend", 8, 256), ("gpu", 8, 256), ("cpu", 1, 32)])
def test_lr_follows_the_global_batch(device, processes, batch):
    recipe_lr = {"075": 0.3, "100": 0.4, "140": 0.4}
    for width, lr in recipe_lr.items():
        cfg = parse_config(["-c", str(next(p for p in CONFIGS if p.name == f"mobilenetv2_{width}_{device}.yaml"))])
        assert cfg.data.batch_size == batch and cfg.system.distribute == (processes > 1)
        assert cfg.scheduler.lr == pytest.approx(lr * processes * batch / 2048, rel=1e-4)
