"""SIGTERM / SIGINT: finish the step, save, log the resume command, exit; under msrun, one consistent checkpoint.

A SIGTERM'd single-process run resumed by the command it logs: test_kill_resume.py (the last kill point).
"""
from pathlib import Path

from mindcv.engine.preemption import resume_command


def test_a_second_signal_exits_at_once(second_signal):
    """scenarios.second_signal_exits_at_once: a second SIGINT mid-compile ends the run at once, code 130."""
    second_signal.result()


def test_sigterm_to_one_msrun_worker_stops_both_at_one_step_with_one_checkpoint(msrun_stop):
    """scenarios.sigterm_under_msrun: 2 workers agree on the step, rank 0 writes, the resume finishes."""
    msrun_stop.result()


def test_resume_command_replaces_the_resume_options():
    save = Path("/runs/a b")
    command = ["python", "train.py", "-c", "x.yaml", "--ckpt_path", "w.ckpt", "--resume_opt", "--lr", "0.1", "--resume_opt=false"]
    assert resume_command(command, save) == "python train.py -c x.yaml --lr 0.1 --ckpt_path '/runs/a b' --resume_opt True"
