import pytest
from PIL import Image
from datahelpers import write_images

from mindcv.data import create_dataset, create_loader, create_transforms, find_unreadable_images, unreadable_image_error
from mindcv.data.check import main
from mindcv.data.image_check import decode_error


@pytest.fixture
def damaged(tmp_path):
    """A folder with one file that is no image at all and one JPEG cut in half."""
    written = write_images(tmp_path / "train", {"a": 3, "b": 3})
    (tmp_path / "train" / "a" / "corrupt.JPEG").write_bytes(b"this is not a jpeg" * 20)
    whole = next(data for data, name in written.items() if name == "b/img001.JPEG")
    (tmp_path / "train" / "b" / "truncated.JPEG").write_bytes(whole[: len(whole) // 2])
    return tmp_path


def test_checker_lists_the_unreadable_files(damaged):
    checked, unreadable = find_unreadable_images(damaged, progress=False)
    assert checked == 8
    assert [path.relative_to(damaged).as_posix() for path, _ in unreadable] == ["train/a/corrupt.JPEG", "train/b/truncated.JPEG"]
    assert all(reason for _, reason in unreadable)


def test_checker_command_exit_codes(damaged, capsys):
    assert main([str(damaged), "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert "corrupt.JPEG" in out and "truncated.JPEG" in out and "checked 8 images" in err
    (damaged / "train" / "a" / "corrupt.JPEG").unlink()
    (damaged / "train" / "b" / "truncated.JPEG").unlink()
    assert main([str(damaged / "train"), "--quiet"]) == 0
    assert main([str(damaged / "absent")]) == 2
    assert "absent: folder not found" in capsys.readouterr().err


def test_formats_mindspore_cannot_decode_are_reported(tmp_path):
    Image.new("RGB", (8, 8)).save(tmp_path / "really_a_gif.jpg", format="GIF")
    Image.new("RGB", (8, 8)).save(tmp_path / "fine.jpg", format="PNG")  # Decode reads PNG whatever the name
    assert "GIF is not a format MindSpore's Decode reads" in decode_error(tmp_path / "really_a_gif.jpg")
    assert decode_error(tmp_path / "fine.jpg") is None


@pytest.mark.parametrize("is_training", [True, False])
def test_pipeline_error_names_the_file(damaged, is_training):
    (damaged / "train" / "b" / "truncated.JPEG").unlink()
    transform = create_transforms("imagenet", image_resize=32, is_training=is_training)
    loader = create_loader(create_dataset("imagenet", damaged, "train"), 2, transform=transform, num_parallel_workers=2)
    with pytest.raises(RuntimeError) as caught:
        for _ in loader.create_dict_iterator(num_epochs=1):
            pass
    corrupt = str(damaged / "train" / "a" / "corrupt.JPEG")
    assert corrupt in str(caught.value)
    error = unreadable_image_error(caught.value)
    assert str(error).startswith(f"{corrupt}: cannot decode this image") and "mindcv.data.check" in str(error)
    assert unreadable_image_error(RuntimeError("something else")) is None
