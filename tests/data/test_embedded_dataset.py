import numpy as np
import pytest
from PIL import Image

from mindcv.data import create_dataset, create_loader, create_transforms, fashion_mnist_class_names, find_classes
from mindcv.data.embedded import ASSET_PATH, fashion_mnist_folder_names, prepare_fashion_mnist


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    """Unpack once for the module into a fresh MINDCV_HOME."""
    home = tmp_path_factory.mktemp("mindcv_home")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("MINDCV_HOME", str(home))
        prepare_fashion_mnist()
        yield home


def test_the_asset_is_small_and_carries_its_licence():
    assert ASSET_PATH.stat().st_size < 3_000_000
    notice = (ASSET_PATH.parent / "FASHION_MNIST_README.md").read_text()
    assert "MIT" in notice and "Copyright (c) 2017 Zalando SE" in notice


def test_unpacks_into_an_imagenet_layout_with_the_right_counts(home, monkeypatch):
    monkeypatch.setenv("MINDCV_HOME", str(home))
    root = prepare_fashion_mnist()
    assert root.parent == home / "datasets"
    assert [path.name for path in (home / "datasets").iterdir()] == [root.name]  # no temporary folder left
    folders = fashion_mnist_folder_names()
    assert folders[0] == "0_tshirt_top" and folders[9] == "9_ankle_boot"
    for split, per_class in (("train", 500), ("val", 150)):
        assert find_classes(root / split) == folders  # sorted order == label order
        assert [len(list((root / split / name).glob("*.png"))) for name in folders] == [per_class] * 10
    assert len(fashion_mnist_class_names()) == 10 and fashion_mnist_class_names()[0] == "T-shirt/top"
    with Image.open(next((root / "val" / folders[3]).glob("*.png"))) as image:
        assert image.size == (28, 28) and image.mode == "L"


def test_second_call_reuses_the_folder(home, monkeypatch):
    monkeypatch.setenv("MINDCV_HOME", str(home))
    first = next((prepare_fashion_mnist() / "train" / "5_sandal").iterdir())
    stamp = first.stat().st_mtime_ns
    prepare_fashion_mnist()
    assert first.stat().st_mtime_ns == stamp


def test_dataset_reads_three_channel_images_with_labels(home, monkeypatch):
    monkeypatch.setenv("MINDCV_HOME", str(home))
    assert create_dataset("fashion_mnist", split="train").get_dataset_size() == 5000
    val = create_dataset("embedded", split="val", shuffle=False)
    assert val.get_dataset_size() == 1500
    loader = create_loader(val, 150, transform=create_transforms("embedded", image_resize=28, crop_pct=1.0))
    labels = []
    for batch in loader.create_dict_iterator(output_numpy=True, num_epochs=1):
        images = batch["image"]
        assert images.shape == (150, 3, 28, 28)
        # grey PNGs decode to RGB: after per-channel normalization, undoing it gives equal channels
        std = np.array([58.395, 57.12, 57.375])[:, None, None]
        mean = np.array([123.675, 116.28, 103.53])[:, None, None]
        pixels = images[0] * std + mean
        np.testing.assert_allclose(pixels[0], pixels[1], atol=1e-3)
        labels += batch["label"].tolist()
    assert np.bincount(labels).tolist() == [150] * 10
