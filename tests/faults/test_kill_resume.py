"""SIGKILL a training run, then the documented resume command: it ends as an uninterrupted run would."""
import json
import os
import random
import signal
import textwrap

import mindspore as ms

from fault_helpers import (
    EPOCHS, REPO, STEPS_PER_EPOCH, assert_finished, assert_same_weights, checkpoint_name, logged_steps, resume_args,
    run, run_args, start, wait_until,
)
from mindcv.checkpoint.manager import INDEX_FILE, resume_checkpoint


def _indexed_epochs(save_dir) -> list:
    return [record["epoch"] for record in json.loads((save_dir / INDEX_FILE).read_text())]


def _summary_epochs(save_dir) -> list:
    return [line.split(",")[0] for line in (save_dir / "summary.csv").read_text().splitlines()[1:]]


def test_kill_at_a_random_step_then_resume_gives_the_uninterrupted_weights(fault_data, reference_run, tmp_path):
    # Any step after the first checkpoint, except the run's very last (the run could end before the kill lands);
    # MINDCV_FAULT_SEED picks another.
    candidates = [(e, s) for e in range(2, EPOCHS + 1) for s in range(1, STEPS_PER_EPOCH + 1)][:-1]
    kill_at = random.Random(os.environ.get("MINDCV_FAULT_SEED", "6")).choice(candidates)
    save = tmp_path / "ckpt"
    process = start(REPO / "train.py", run_args(fault_data, save), tmp_path, "killed")
    try:
        wait_until(lambda: kill_at in logged_steps(save / "train.log"), process, f"epoch {kill_at[0]} step {kill_at[1]}")
    finally:
        process.send_signal(signal.SIGKILL)
    assert process.wait() == -signal.SIGKILL

    # The epoch before the kill point is saved; a kill landing late on an epoch's last step may follow its save too.
    epoch_done = _indexed_epochs(save)[-1]
    assert epoch_done in (kill_at[0] - 1, kill_at[0]) and (save / checkpoint_name(epoch_done)).is_file(), kill_at
    assert resume_checkpoint(save) == save / checkpoint_name(epoch_done)
    assert_finished(run(REPO / "train.py", resume_args(fault_data, save), tmp_path, "resumed"))

    assert f"resumed from {save / checkpoint_name(epoch_done)} after epoch {epoch_done}" in (save / "train.log").read_text()
    assert _summary_epochs(save) == [str(e) for e in range(1, EPOCHS + 1)]
    assert_same_weights(save / checkpoint_name(EPOCHS), reference_run.final_checkpoint())


# Imports train.main, and makes mindspore.save_checkpoint write half of the second checkpoint, then SIGKILLs itself.
_DIE_IN_SECOND_SAVE = textwrap.dedent("""
    import os, signal, sys
    import mindspore as ms
    import train

    real_save = ms.save_checkpoint
    calls = []

    def save_then_die_in_second(save_obj, ckpt_file_name, *args, **kwargs):
        calls.append(ckpt_file_name)
        real_save(save_obj, ckpt_file_name, *args, **kwargs)
        if len(calls) == 2:
            os.chmod(ckpt_file_name, 0o600)
            os.truncate(ckpt_file_name, os.path.getsize(ckpt_file_name) // 2)
            os.kill(os.getpid(), signal.SIGKILL)

    ms.save_checkpoint = save_then_die_in_second
    sys.exit(train.main(sys.argv[1:]))
""")


def test_kill_during_a_checkpoint_write_keeps_the_previous_one_and_resumes(fault_data, reference_run, tmp_path):
    driver = tmp_path / "die_in_second_save.py"
    driver.write_text(_DIE_IN_SECOND_SAVE)
    save = tmp_path / "ckpt"
    killed = run(driver, run_args(fault_data, save), tmp_path, "killed")
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]

    partial = list(save.glob(f".{checkpoint_name(2)[:-5]}*"))
    assert partial, "the kill should have left the half-written temporary file"
    assert not (save / checkpoint_name(2)).exists()
    assert _indexed_epochs(save) == [1]
    assert int(ms.load_checkpoint(str(save / checkpoint_name(1)))["epoch_num"].asnumpy()) == 1
    assert resume_checkpoint(save) == save / checkpoint_name(1)

    assert_finished(run(REPO / "train.py", resume_args(fault_data, save), tmp_path, "resumed"))
    assert not any(p.exists() for p in partial)
    assert _indexed_epochs(save) == [1, 2, 3]
    assert_same_weights(save / checkpoint_name(EPOCHS), reference_run.final_checkpoint())
