import pytest

from mindcv.kernels import batchnorm, build, depthwise

_CACHED = (build.build_library, depthwise.depthwise_conv3x3, batchnorm.batch_norm_train)


@pytest.fixture
def fresh_build_cache(monkeypatch, tmp_path):
    """An empty kernel cache under a temporary MINDCV_HOME, with in-process caches cleared."""
    monkeypatch.setenv("MINDCV_HOME", str(tmp_path / "home"))
    for cached in _CACHED:
        cached.cache_clear()
    yield tmp_path / "home" / "kernels"
    for cached in _CACHED:
        cached.cache_clear()
