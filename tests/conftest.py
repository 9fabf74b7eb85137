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
