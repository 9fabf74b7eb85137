"""An unwritable or full ckpt_save_dir fails at start; a disk that fills up mid-run stops with a clear error."""
import errno
import json
import shutil
import time

import mindspore as ms

import train
from fault_helpers import MODEL, user_error
from mindcv.checkpoint.manager import INDEX_FILE
from mindcv.engine import trainer
from tests.engine.engine_helpers import train_args


def test_unwritable_save_dir_fails_at_start(fault_data, tmp_path, capsys):
    blocker = tmp_path / "a_file"
    blocker.write_text("not a folder")
    save = blocker / "ckpt"  # mkdir fails even for root, who ignores permissions
    start = time.perf_counter()
    assert train.main(train_args(fault_data, save)) == 2
    assert user_error(capsys.readouterr().err) == f"error: ckpt_save_dir {save}: cannot write there (Not a directory)"
    assert time.perf_counter() - start < 5  # before data, model or a single step


def test_full_disk_fails_at_start(fault_data, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(shutil, "disk_usage", lambda path: shutil._ntuple_diskusage(2**40, 2**40 - 2**20, 2**20))
    save = tmp_path / "ckpt"
    assert train.main(train_args(fault_data, save)) == 2
    error = user_error(capsys.readouterr().err)
    assert error == f"error: ckpt_save_dir {save}: only 1 MiB free, need at least {trainer.MIN_FREE_BYTES // 2**20} MiB"
    assert list(save.iterdir()) == []


def test_disk_filling_up_mid_run_names_the_folder_and_the_last_good_checkpoint(fault_data, tmp_path, capsys, monkeypatch):
    real_save = ms.save_checkpoint
    calls = []

    def second_save_hits_a_full_disk(save_obj, ckpt_file_name, *args, **kwargs):
        calls.append(ckpt_file_name)
        if len(calls) == 2:
            with open(ckpt_file_name, "wb") as f:
                f.write(b"\0" * 1000)
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(save_obj, ckpt_file_name, *args, **kwargs)

    monkeypatch.setattr(ms, "save_checkpoint", second_save_hits_a_full_disk)
    save = tmp_path / "ckpt"
    assert train.main(train_args(fault_data, save, "--mode", "1", "--epoch_size", "3")) == 2
    first = save / f"{MODEL}-1_2.ckpt"
    assert user_error(capsys.readouterr().err) == (
        f"error: {save}: cannot write checkpoint {MODEL}-2_2.ckpt (No space left on device); "
        f"training stopped, last good checkpoint: {first}"
    )
    assert [r["file"] for r in json.loads((save / INDEX_FILE).read_text())] == [first.name]
    assert sorted(p.name for p in save.glob("*.ckpt")) == [first.name]  # no half-written file left (hidden ones included)
    assert int(ms.load_checkpoint(str(first))["epoch_num"].asnumpy()) == 1
