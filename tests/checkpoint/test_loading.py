import hashlib
from pathlib import Path

import mindspore as ms
import numpy as np
import pytest

import mindcv
from mindcv.checkpoint import download_cached, save_checkpoint
from mindcv.models import registry

SMALL = "mobilenet_v2_035"


def _params(network) -> dict:
    return {p.name: p.asnumpy() for p in network.get_parameters()}


def _randomise(network, seed: int = 0) -> None:
    """Non-trivial values everywhere, BN statistics included, so a lost tensor shows."""
    rng = np.random.default_rng(seed)
    for p in network.get_parameters():
        p.set_data(ms.Tensor(rng.uniform(0.5, 1.5, p.shape), p.dtype))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    network = mindcv.create_model(SMALL)
    _randomise(network)
    path = tmp_path_factory.mktemp("ckpt") / "mnv2_035-3_10.ckpt"
    save_checkpoint(network, path)
    return network, path


@pytest.mark.parametrize("suffix", [".ckpt", ".safetensors"])
def test_saved_checkpoint_reloads_bit_exactly(trained, tmp_path, suffix):
    network, _ = trained
    path = save_checkpoint(network, tmp_path / f"weights{suffix}")
    reloaded = mindcv.create_model(SMALL, checkpoint_path=path)
    expected, actual = _params(network), _params(reloaded)
    assert expected.keys() == actual.keys()
    for name in expected:
        np.testing.assert_array_equal(actual[name], expected[name], err_msg=name)


def test_fine_tuning_into_another_head_keeps_the_backbone(trained):
    network, path = trained
    tuned = mindcv.create_model(SMALL, num_classes=10, checkpoint_path=path)
    before, after = _params(network), _params(tuned)
    np.testing.assert_array_equal(after["features.0.weight"], before["features.0.weight"])
    np.testing.assert_array_equal(after["features.21.moving_variance"], before["features.21.moving_variance"])
    assert after["classifier.1.weight"].shape == (10, 1280)
    assert not after["classifier.1.bias"].any()  # freshly initialised


def test_1001_class_head_loses_the_background_class(tmp_path):
    source = mindcv.create_model(SMALL, num_classes=1001)
    _randomise(source, seed=1)
    path = save_checkpoint(source, tmp_path / "tf_style.ckpt")
    network = mindcv.create_model(SMALL, checkpoint_path=path)
    np.testing.assert_array_equal(network.classifier[1].weight.asnumpy(), source.classifier[1].weight.asnumpy()[1:])
    np.testing.assert_array_equal(network.classifier[1].bias.asnumpy(), source.classifier[1].bias.asnumpy()[1:])


def test_grey_model_sums_the_rgb_stem_kernel(trained):
    network, path = trained
    grey = mindcv.create_model(SMALL, in_channels=1, checkpoint_path=path)
    rgb_kernel = network.features[0].weight.asnumpy()
    np.testing.assert_allclose(grey.features[0].weight.asnumpy(), rgb_kernel.sum(axis=1, keepdims=True), rtol=1e-6)
    # A grey image gives the same stem response as the RGB network on that image repeated in 3 channels.
    x = np.random.default_rng(2).standard_normal((1, 1, 32, 32)).astype(np.float32)
    rgb_out = network.features[0](ms.Tensor(np.repeat(x, 3, axis=1))).asnumpy()
    np.testing.assert_allclose(grey.features[0](ms.Tensor(x)).asnumpy(), rgb_out, rtol=1e-4, atol=1e-4)


def test_four_channel_model_cycles_the_rgb_kernel(trained):
    network, path = trained
    rgbn = mindcv.create_model(SMALL, in_channels=4, checkpoint_path=path)
    rgb = network.features[0].weight.asnumpy()
    expected = np.concatenate([rgb, rgb[:, :1]], axis=1) * 3 / 4
    np.testing.assert_allclose(rgbn.features[0].weight.asnumpy(), expected, rtol=1e-6)


def test_ema_copy_and_training_state(trained, tmp_path):
    network, _ = trained
    entries = {p.name: p for p in network.get_parameters()}
    ema = mindcv.create_model(SMALL)
    _randomise(ema, seed=3)
    for p in ema.trainable_params():
        entries["ema." + p.name] = ms.Parameter(p.data.copy(), name="ema." + p.name)
    # What a training checkpoint carries beside the weights: moments, counters, the config.
    entries["moments.features.0.weight"] = ms.Parameter(ms.Tensor(np.ones((16, 3, 3, 3), np.float32)), name="moments.features.0.weight")
    entries["global_step"] = ms.Parameter(ms.Tensor(np.array([7], np.int32)), name="global_step")
    path = tmp_path / "train_state.ckpt"
    save_checkpoint(list(entries.values()), path, append_dict={"epoch_num": 3, "config": "model: x"})

    plain = mindcv.create_model(SMALL, checkpoint_path=path)
    np.testing.assert_array_equal(plain.features[0].weight.asnumpy(), network.features[0].weight.asnumpy())
    averaged = mindcv.create_model(SMALL, checkpoint_path=path, ema=True)
    np.testing.assert_array_equal(averaged.features[0].weight.asnumpy(), ema.features[0].weight.asnumpy())
    # BN statistics are not averaged: they come from the plain copy.
    np.testing.assert_array_equal(
        averaged.features[1].moving_mean.asnumpy(), network.features[1].moving_mean.asnumpy()
    )


def test_ema_requested_but_absent(trained):
    _, path = trained
    with pytest.raises(mindcv.CheckpointError, match="no EMA weights"):
        mindcv.create_model(SMALL, checkpoint_path=path, ema=True)


def test_missing_file(tmp_path):
    missing = tmp_path / "nope.ckpt"
    with pytest.raises(mindcv.CheckpointError, match=f"{missing}: checkpoint file not found"):
        mindcv.create_model(SMALL, checkpoint_path=missing)


def test_truncated_file(trained, tmp_path):
    _, path = trained
    truncated = tmp_path / "truncated.ckpt"
    truncated.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(mindcv.CheckpointError, match=f"{truncated}: not a readable ckpt checkpoint"):
        mindcv.create_model(SMALL, checkpoint_path=truncated)


def test_not_a_checkpoint(tmp_path):
    text = tmp_path / "notes.ckpt"
    text.write_text("these are not weights\n")
    with pytest.raises(mindcv.CheckpointError, match="notes.ckpt: not a readable ckpt checkpoint"):
        mindcv.create_model(SMALL, checkpoint_path=text)
    empty = tmp_path / "empty.safetensors"
    empty.touch()
    with pytest.raises(mindcv.CheckpointError, match="empty.safetensors: checkpoint file is empty"):
        mindcv.create_model(SMALL, checkpoint_path=empty)
    with pytest.raises(mindcv.CheckpointError, match="weights.pth: not a checkpoint file name"):
        mindcv.create_model(SMALL, checkpoint_path=tmp_path / "weights.pth")


def test_checkpoint_of_another_width(trained):
    _, path = trained
    with pytest.raises(mindcv.CheckpointError, match=r"mnv2_035-3_10.ckpt: does not fit this network: \d+ shape mismatches"):
        mindcv.create_model("mobilenet_v2_100", checkpoint_path=path)


def test_checkpoint_of_another_architecture(tmp_path):
    other = ms.nn.SequentialCell([ms.nn.Conv2d(3, 8, 3), ms.nn.Dense(8, 2)])
    path = save_checkpoint(other, tmp_path / "other.ckpt")
    with pytest.raises(mindcv.CheckpointError, match="other.ckpt: does not fit this network: .*missing parameters"):
        mindcv.create_model(SMALL, checkpoint_path=path)


def _point_config_at(monkeypatch, url: str, digest: str = "") -> None:
    cfg = registry.get_pretrained_cfg(SMALL).with_updates(url=url, hash=digest)
    monkeypatch.setitem(registry._pretrained_cfgs, SMALL, cfg)


def test_pretrained_downloads_verifies_and_caches(trained, tmp_path, monkeypatch):
    network, path = trained
    monkeypatch.setenv("MINDCV_HOME", str(tmp_path / "home"))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    _point_config_at(monkeypatch, path.as_uri(), f"sha256:{digest}")
    loaded = mindcv.create_model(SMALL, pretrained=True)
    cached = tmp_path / "home" / "checkpoints" / path.name
    assert cached.read_bytes() == path.read_bytes()
    np.testing.assert_array_equal(loaded.features[0].weight.asnumpy(), network.features[0].weight.asnumpy())
    assert [p.name for p in cached.parent.iterdir()] == [path.name]  # no temporary file left


def test_pretrained_with_wrong_hash_leaves_nothing(trained, tmp_path, monkeypatch):
    _, path = trained
    monkeypatch.setenv("MINDCV_HOME", str(tmp_path / "home"))
    _point_config_at(monkeypatch, path.as_uri(), "md5:" + "0" * 32)
    with pytest.raises(mindcv.CheckpointError, match="md5 is .*, expected 0{32}"):
        mindcv.create_model(SMALL, pretrained=True)
    assert list((tmp_path / "home" / "checkpoints").iterdir()) == []


def test_failed_download_leaves_nothing(tmp_path):
    with pytest.raises(mindcv.CheckpointError, match="download failed"):
        download_cached((tmp_path / "absent.ckpt").as_uri(), folder=tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_pretrained_without_published_weights():
    with pytest.raises(mindcv.CheckpointError, match="'mobilenet_v2_130' has no published weights"):
        mindcv.create_model("mobilenet_v2_130", pretrained=True)


def test_atomic_save_keeps_the_old_file_when_writing_fails(trained, tmp_path, monkeypatch):
    network, path = trained
    target = tmp_path / "latest.ckpt"
    target.write_bytes(path.read_bytes())

    def crash(*args, **kwargs):
        Path(args[1]).write_bytes(b"half")
        raise OSError("disk full")

    monkeypatch.setattr(ms, "save_checkpoint", crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(network, target)
    assert target.read_bytes() == path.read_bytes()
    assert [p.name for p in tmp_path.iterdir()] == ["latest.ckpt"]
