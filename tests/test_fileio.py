import os

import pytest

from mindcv.fileio import write_text_atomic


def test_write_text_atomic_replaces_content(tmp_path):
    path = tmp_path / "summary.csv"
    path.write_text("old\n")
    write_text_atomic(path, "new\n")
    assert path.read_text() == "new\n"
    assert [p.name for p in tmp_path.iterdir()] == ["summary.csv"]


def test_failed_write_keeps_previous_file_and_leaves_no_temporary(tmp_path, monkeypatch):
    path = tmp_path / "checkpoints.json"
    path.write_text("[1]")

    def fail(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="No space"):
        write_text_atomic(path, "[1, 2]")
    assert path.read_text() == "[1]"
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoints.json"]
