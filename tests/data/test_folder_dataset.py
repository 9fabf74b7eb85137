import pytest
from datahelpers import read_raw, write_images

from mindcv.data import create_dataset, find_classes, load_class_map
from mindcv.errors import ConfigError, DataError

COUNTS = {"dog": 3, "Zebra": 2, "cat": 4}  # byte order puts 'Zebra' first


def test_class_index_is_position_in_sorted_folder_names(tmp_path):
    written = write_images(tmp_path / "train", COUNTS)
    assert find_classes(tmp_path / "train") == ["Zebra", "cat", "dog"]
    rows = read_raw(create_dataset("imagenet", tmp_path, "train", shuffle=False))
    assert len(rows) == sum(COUNTS.values())
    expected = {"Zebra": 0, "cat": 1, "dog": 2}
    for data, label in rows:
        assert label == expected[written[data].split("/")[0]]
    assert sorted(written[data] for data, _ in rows) == sorted(written.values())


def test_any_split_name_and_custom_folder_name(tmp_path):
    write_images(tmp_path / "train", COUNTS)
    written = write_images(tmp_path / "validation", {"cat": 2, "dog": 1})
    rows = read_raw(create_dataset("", tmp_path, "validation", shuffle=False))
    assert sorted(written[data] for data, _ in rows) == sorted(written.values())
    assert [label for _, label in rows] == [0, 0, 1]


def test_class_map_keeps_the_indices_of_a_larger_label_set(tmp_path):
    written = write_images(tmp_path / "val", {"n003": 2, "n001": 1})
    class_map = tmp_path / "classes.txt"
    class_map.write_text("n000 first class\nn001\n\nn002\nn003 fourth\n")
    assert load_class_map(class_map) == {"n000": 0, "n001": 1, "n002": 2, "n003": 3}
    rows = read_raw(create_dataset("imagenet", tmp_path, "val", shuffle=False, class_map=class_map))
    assert {written[data]: label for data, label in rows} == {"n001/img000.JPEG": 1, "n003/img000.JPEG": 3, "n003/img001.JPEG": 3}


def test_class_indexing_dict(tmp_path):
    written = write_images(tmp_path / "train", {"a": 1, "b": 1})
    rows = read_raw(create_dataset("folder", tmp_path, "train", shuffle=False, class_indexing={"a": 7, "b": 3}))
    assert {written[data]: label for data, label in rows} == {"a/img000.JPEG": 7, "b/img000.JPEG": 3}


def test_folder_missing_from_the_class_map_is_named(tmp_path):
    write_images(tmp_path / "train", {"a": 1, "stray": 1})
    with pytest.raises(DataError, match="stray"):
        create_dataset("imagenet", tmp_path, "train", class_indexing={"a": 0})
    (tmp_path / "map.txt").write_text("a\nb\na\n")
    with pytest.raises(DataError, match="map.txt.*a more than once"):
        create_dataset("imagenet", tmp_path, "train", class_map=tmp_path / "map.txt")


def test_layout_errors_name_the_path(tmp_path):
    with pytest.raises(DataError, match=str(tmp_path / "absent")):
        create_dataset("imagenet", tmp_path / "absent", "train")
    write_images(tmp_path / "train", {"a": 1})
    with pytest.raises(DataError, match=f"{tmp_path / 'val'}: split folder 'val' not found .*found: train"):
        create_dataset("imagenet", tmp_path, "val")
    (tmp_path / "train" / "empty").mkdir()
    with pytest.raises(DataError, match=f"{tmp_path / 'train' / 'empty'}: class folder holds no images"):
        create_dataset("imagenet", tmp_path, "train")
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "notes.txt").write_text("no class folders here")
    with pytest.raises(DataError, match=f"{tmp_path / 'flat'}: no class folders"):
        create_dataset("imagenet", tmp_path, "flat")


def test_download_explains_where_to_put_the_files(tmp_path):
    with pytest.raises(DataError, match=f"ImageNet cannot be downloaded.*{tmp_path}/train/<class>"):
        create_dataset("imagenet", tmp_path, "train", download=True)
    with pytest.raises(DataError, match=f"CIFAR-10 cannot be downloaded.*{tmp_path} holds data_batch_1.bin"):
        create_dataset("cifar10", tmp_path, "train", download=True)


def test_download_with_the_files_present_just_reads_them(tmp_path):
    write_images(tmp_path / "train", {"a": 2})
    assert create_dataset("imagenet", tmp_path, "train", download=True).get_dataset_size() == 2


def test_unknown_names_and_bad_arguments_are_config_errors(tmp_path):
    with pytest.raises(ConfigError, match="'mnist' is not supported"):
        create_dataset("mnist", tmp_path)
    with pytest.raises(ConfigError, match="class_indexing and class_map apply to folders only"):
        create_dataset("cifar10", tmp_path, class_map=tmp_path / "x.txt")
    write_images(tmp_path / "train", {"a": 2})
    with pytest.raises(ConfigError, match="shard_id=2"):
        create_dataset("imagenet", tmp_path, num_shards=2, shard_id=2)
