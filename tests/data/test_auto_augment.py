import mindspore.dataset as ds
import numpy as np
import pytest
from datahelpers import write_images

from mindcv.data import AugMix, create_dataset, create_loader, create_transforms, parse_auto_augment
from mindspore.dataset import vision

from mindcv.data.auto_augment import _RANDAUG_SPANS, RandAugment, _magnitude_levels, auto_augment_transform, augment_ops
from mindcv.errors import ConfigError

POLICIES = [
    "randaug",
    "randaug-m9-mstd0.5",
    "randaug-m9-n3-mstd0-inc1",
    "randaug-m5-mstd101",
    "randaug-m7-mstdinf-mmax8",
    "autoaug",
    "trivialaugwide",
    "augmix",
    "augmix-m5-w4-d2-a0.5",
]


@pytest.mark.parametrize("policy", POLICIES)
def test_every_policy_runs_in_the_pipeline(tmp_path, seeded, policy):
    write_images(tmp_path / "train", {"a": 3, "b": 3})
    transform = create_transforms("imagenet", image_resize=32, is_training=True, auto_augment=policy)
    loader = create_loader(create_dataset("imagenet", tmp_path), 6, is_training=True, transform=transform, num_parallel_workers=2)
    batch = next(loader.create_dict_iterator(output_numpy=True, num_epochs=1))
    assert batch["image"].shape == (6, 3, 32, 32) and batch["image"].dtype == np.float32
    assert np.isfinite(batch["image"]).all()


def test_parsing_reads_options_over_defaults():
    assert parse_auto_augment("randaug-m9-mstd0.5").options == {"m": 9, "n": 2, "mstd": 0.5, "mmax": 10, "inc": 0}
    assert parse_auto_augment("RandAug-n3-m4").options["n"] == 3
    assert parse_auto_augment("augmix-w2").options == {"m": 3, "w": 2, "d": 0, "a": 1}
    assert parse_auto_augment("trivialaugwide").options == {}


@pytest.mark.parametrize(
    "policy, message",
    [
        ("randaugment", "unknown policy 'randaugment'"),
        ("randaug-x9", "cannot read option 'x9'"),
        ("randaug-m", "cannot read option 'm'"),
        ("randaug-m11", "option 'm11' must be a number in \\[0, 10\\]"),
        ("randaug-n2.5", "option 'n2.5' must be an integer"),
        ("randaug-m9-mmax5", "m9 exceeds mmax5"),
        ("randaug-w0", "cannot read option 'w0'"),
        ("autoaug-mstd0.5", "options of autoaug: none"),
        ("augmix-m0", "severity m must be at least 1"),
        ("augmix-d-1", "cannot read option 'd'"),
        ("", "expected a policy string"),
        ("__import__('os')", "unknown policy"),
    ],
)
def test_invalid_policies_raise_config_error_naming_the_part(policy, message):
    with pytest.raises(ConfigError, match=message):
        parse_auto_augment(policy)


def test_magnitude_noise_becomes_equally_likely_levels():
    assert _magnitude_levels(9, 0, 10) == [9]
    levels = _magnitude_levels(9, 0.5, 10)
    assert len(levels) == 16 and abs(np.mean(levels) - 9) < 0.01 and min(levels) < 8.1 and max(levels) > 9.9
    assert max(_magnitude_levels(10, 2, 8)) == 8  # clipped to mmax
    uniform = _magnitude_levels(6, float("inf"), 10)
    assert uniform[0] == pytest.approx(6 * 0.5 / 16) and uniform[-1] == pytest.approx(6 * 15.5 / 16)


def _fill_share(image: np.ndarray, grey: int) -> float:
    return float(np.mean(np.all(image == grey, axis=-1)))


def test_translation_is_a_fraction_of_the_image():
    image = np.random.default_rng(0).integers(0, 256, (40, 60, 3), dtype=np.uint8)
    for name, expected in (("TranslateX", 27 / 60), ("TranslateY", 18 / 40)):
        variants = augment_ops(10, _RANDAUG_SPANS, vision.Inter.NEAREST, 114)[name]
        assert len(variants) == 2  # both directions
        for op in variants:
            assert _fill_share(op(image), 114) == pytest.approx(expected, abs=0.02), name


@pytest.mark.parametrize("policy", ["randaug-m10-mstd0-n3", "trivialaugwide"])
def test_no_image_is_replaced_by_fill(seeded, policy):
    # MindSpore 2.10's own RandAugment and TrivialAugmentWide turn about 1 image in 8 into pure fill colour
    image = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    augmented = ds.NumpySlicesDataset({"image": np.stack([image] * 200)}, shuffle=False).map(
        auto_augment_transform(policy, vision.Inter.BILINEAR, 114), "image"
    )
    shares = [_fill_share(row["image"], 114) for row in augmented.create_dict_iterator(output_numpy=True)]
    assert max(shares) < 0.75 and np.mean(shares) < 0.15


def test_augmix_keeps_shape_type_and_changes_the_image(seeded):
    image = np.random.default_rng(0).integers(0, 256, (24, 20, 3), dtype=np.uint8)
    first, second = AugMix(severity=5)(image), AugMix(severity=5)(image)
    assert first.shape == image.shape and first.dtype == np.uint8
    assert not np.array_equal(first, image)
    np.testing.assert_array_equal(first, second)  # both seeded from the same dataset seed
    ds.config.set_seed(99)
    assert not np.array_equal(AugMix(severity=5)(image), first)


def test_layers_choose_independently(seeded):
    # two layers of {Invert, Identity}: one inversion shows, two cancel; identical choices would never show one
    image = np.random.default_rng(2).integers(0, 256, (8, 8, 3), dtype=np.uint8)
    augment = RandAugment(["Invert", "Identity"], [0.0], 2, 1.0, _RANDAUG_SPANS, vision.Inter.NEAREST, 114)
    inverted = [np.array_equal(augment(image), 255 - image) for _ in range(100)]
    assert 30 < sum(inverted) < 70
