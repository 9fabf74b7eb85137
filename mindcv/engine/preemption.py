"""Stopping a run cleanly on SIGTERM or SIGINT, at the same step on every rank.

Schedulers announce preemption with SIGTERM and give a grace period; Ctrl+C sends
SIGINT. The first signal asks the run to stop after the step in progress (the
trainer then writes a resumable checkpoint); a second one ends the process at once.
A launcher that forwards a signal may deliver copies of it within milliseconds of
each other (Slurm signals every process and mpirun forwards as well), so copies that
arrive within `DUPLICATE_WINDOW_S` of the first count as that first signal.

Python runs signal handlers only between bytecodes of the main thread, which can be
inside a compiled training step for seconds. So the handlers here do nothing but make
Python's C-level handler write the signal number to a pipe (`signal.set_wakeup_fd`),
and a watcher thread reads it at once: the second signal ends the process even in
the middle of a step.

With several ranks, a signal may reach one rank (e.g. `kill` of one worker) or all of
them at slightly different steps. `StopRequest.agreed()`, called by every rank at the
same points, sums the ranks' flags with an AllReduce, so all ranks stop after the same
step and rank 0 writes one consistent checkpoint.
"""
import ctypes
import logging
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Dict, Optional, Sequence

import mindspore as ms
import numpy as np

_logger = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
DUPLICATE_WINDOW_S = 1.0
_PR_SET_PDEATHSIG = 1  # linux/prctl.h


class TrainingStopped(Exception):
    """The run stopped on a signal after saving `checkpoint`; exit with `exit_code` (128 + the signal number)."""

    def __init__(self, signal_number: int, checkpoint: Optional[Path]) -> None:
        super().__init__(f"stopped by {signal.Signals(signal_number).name}; checkpoint: {checkpoint}")
        self.signal_number = signal_number
        self.checkpoint = checkpoint

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signal_number).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signal_number


class StopRequest:
    """Context manager: catch STOP_SIGNALS while training; `agreed()` tells every rank whether to stop now."""

    def __init__(self, world: int = 1) -> None:
        self.world = world
        self.signal_number = 0
        self._first_at = 0.0
        self._previous_handlers: Dict[int, object] = {}
        self._previous_wakeup_fd = -1
        self._pipe = (-1, -1)
        self._watcher: Optional[threading.Thread] = None
        self._all_reduce = ms.ops.AllReduce() if world > 1 else None

    def __enter__(self) -> "StopRequest":
        if threading.current_thread() is not threading.main_thread():
            _logger.warning("training outside the main thread: SIGTERM and SIGINT are not caught (no checkpoint on preemption)")
            return self
        read_end, write_end = os.pipe()
        os.set_blocking(write_end, False)
        self._pipe = (read_end, write_end)
        self._watcher = threading.Thread(target=self._watch, name="mindcv-stop-signals", daemon=True)
        self._watcher.start()
        self._previous_wakeup_fd = signal.set_wakeup_fd(write_end, warn_on_full_buffer=False)
        for number in STOP_SIGNALS:
            # A Python-level handler makes Python's C handler feed the wakeup pipe; the watcher does the work.
            self._previous_handlers[number] = signal.signal(number, lambda *_: None)
        return self

    def __exit__(self, *exc) -> None:
        if self._watcher is None:
            return
        for number, handler in self._previous_handlers.items():
            signal.signal(number, handler)
        signal.set_wakeup_fd(self._previous_wakeup_fd)
        os.close(self._pipe[1])  # the watcher reads end-of-file and leaves
        self._watcher.join()
        os.close(self._pipe[0])
        self._watcher = None

    def _watch(self) -> None:
        while True:
            data = os.read(self._pipe[0], 64)
            if not data:
                return
            for number in data:
                if number in STOP_SIGNALS:
                    self._on_signal(number)

    def _on_signal(self, number: int) -> None:
        now = time.monotonic()
        name = signal.Signals(number).name
        if not self.signal_number:
            self.signal_number, self._first_at = number, now
            _logger.warning("%s received: stopping after the current step with a checkpoint (send it again to exit at once)", name)
        elif now - self._first_at > DUPLICATE_WINDOW_S:
            _logger.warning("second %s: exiting at once without a checkpoint", name)
            os._exit(128 + number)

    def agreed(self) -> int:
        """The signal number to stop on now (0: go on): the same on every rank. A collective with several ranks."""
        if self._all_reduce is None:
            return self.signal_number
        # Counts per signal, summed: the CPU AllReduce sums float tensors only.
        received = np.array([number == self.signal_number for number in STOP_SIGNALS], np.float32)
        counts = self._all_reduce(ms.Tensor(received)).asnumpy()
        return next((number for number, count in zip(STOP_SIGNALS, counts) if count > 0), 0)

    def barrier(self) -> None:
        """Wait until every rank got here (so none exits while rank 0 still writes)."""
        if self._all_reduce is not None:
            self._all_reduce(ms.Tensor(np.zeros(1, np.float32))).asnumpy()


def follow_launcher() -> None:
    """Get SIGTERM when the parent process (msrun, mpirun's daemon) dies.

    msrun dies of a SIGTERM without passing it on (its workers run in sessions of their
    own), which would leave them training on; with this they stop with a checkpoint.
    Only for launched workers: a plain run under nohup must outlive its shell.
    """
    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        _logger.warning("cannot follow the launcher's death (prctl: %s)", os.strerror(ctypes.get_errno()))
    elif os.getppid() != parent:  # the launcher died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


def resume_command(command: Sequence[str], save_dir: Path) -> str:
    """`command` without its --ckpt_path / --resume_opt, plus `--ckpt_path save_dir --resume_opt True`, for a shell."""
    kept, words = [], iter(command)
    for word in words:
        name, has_value = word.split("=", 1)[0], "=" in word
        if name == "--ckpt_path" and not has_value:
            next(words, None)
        elif name == "--resume_opt" and not has_value:
            value = next(words, None)  # a bare --resume_opt means true; a following option is kept
            if value is not None and value.startswith("-"):
                kept.append(value)
        elif name not in ("--ckpt_path", "--resume_opt"):
            kept.append(word)
    return shlex.join([*kept, "--ckpt_path", str(save_dir), "--resume_opt", "True"])
