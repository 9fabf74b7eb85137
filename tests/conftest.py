import logging
import os

os.environ.setdefault("GLOG_v", "3")

import mindspore as ms  # noqa: E402
import pytest  # noqa: E402


@pytest.fixture(autouse=True)
def _pynative_cpu():
    """Each test starts on the CPU in PyNative mode; graph-mode tests switch explicitly."""
    ms.set_device("CPU")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    yield


@pytest.fixture(autouse=True)
def _restore_mindcv_logger():
    """Entry points run in-process set up the `mindcv` logger (own handlers, no propagation);
    put it back afterwards so later tests' caplog still sees its records."""
    logger = logging.getLogger("mindcv")
    state = (logger.level, logger.propagate, list(logger.handlers))
    yield
    logger.level, logger.propagate = state[0], state[1]
    for handler in list(logger.handlers):
        if handler not in state[2]:
            logger.removeHandler(handler)
            handler.close()
    for handler in state[2]:
        if handler not in logger.handlers:
            logger.addHandler(handler)
