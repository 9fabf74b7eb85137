"""How the kernels are built: a required build that fails stops with the compiler's message, and the
results are the same bits for any target CPU and any thread count (exact resume on another machine)."""
import platform
import shutil

import mindspore as ms
import numpy as np
import pytest
from mindspore import Tensor

import mindcv
from mindcv.kernels import KernelBuildError, batchnorm, build, dense, depthwise, kernel_available, set_num_threads
from mindcv.kernels.threads import NUM_THREADS_ENV
from mindcv.models.layers import BatchNormAct2d, Conv3x3, DepthwiseConv2d
from tests.kernels.kernel_helpers import InputAndParameterGradients

# The oldest target of each architecture: what every CPU of it runs.
GENERIC_ARCH = {"x86_64": "x86-64", "aarch64": "armv8-a"}


def _clear_kernel_caches() -> None:
    for cached in (build.build_library, depthwise.depthwise_conv3x3, dense.conv3x3, batchnorm.batch_norm_train,
                   batchnorm.batch_norm_inference):
        cached.cache_clear()


@pytest.fixture
def kernels_for(monkeypatch):
    """Build (or take from the cache) the kernels for one -march target and use them from now on."""

    def use(arch: str) -> None:
        monkeypatch.setenv(build.ARCH_ENV, arch)
        _clear_kernel_caches()
        assert kernel_available(), f"the kernels did not build for -march={arch}"

    yield use
    monkeypatch.delenv(build.ARCH_ENV, raising=False)
    _clear_kernel_caches()


def _mobilenet_outputs_and_gradients() -> dict:
    """A training-mode MobileNetV2 step on the kernels: logits, moving statistics, and the gradients
    of the input and every weight, then eval-mode logits (every kernel entry point runs: depthwise stride
    1 and 2 forward and backward, the stem's 3x3 convolution, BatchNorm with and without ReLU6 forward,
    backward and inference)."""
    ms.set_context(mode=ms.PYNATIVE_MODE)
    ms.set_seed(0)
    network = mindcv.create_model("mobilenet_v2_035", num_classes=4, drop_rate=0.0).set_train(True)
    assert all(cell.custom_kernel for _, cell in network.cells_and_names() if isinstance(cell, (DepthwiseConv2d, Conv3x3, BatchNormAct2d)))
    rng = np.random.default_rng(0)
    images = Tensor(rng.standard_normal((2, 3, 32, 32)).astype(np.float32))
    sens = Tensor(rng.standard_normal((2, 4)).astype(np.float32))
    values = {"logits": network(images).asnumpy()}
    gradients = InputAndParameterGradients(network)(images, sens)
    values["d_images"] = gradients[0].asnumpy()
    values.update({f"d_{p.name}": g.asnumpy() for p, g in zip(network.trainable_params(), gradients[1:])})
    values.update({p.name: p.asnumpy() for p in network.get_parameters() if "moving" in p.name})
    values["eval_logits"] = network.set_train(False)(images).asnumpy()
    return values


def _assert_bitwise_equal(got: dict, want: dict) -> None:
    assert got.keys() == want.keys()
    differing = [name for name in want if not np.array_equal(got[name], want[name])]
    assert not differing, f"{len(differing)} of {len(want)} values differ, e.g. {differing[:3]}"


def test_generic_and_native_builds_compute_the_same_bits(kernels_for):
    generic = GENERIC_ARCH.get(platform.machine())
    assert generic, f"no generic -march target known for {platform.machine()}"
    kernels_for("native")
    native = _mobilenet_outputs_and_gradients()
    kernels_for(generic)
    portable = _mobilenet_outputs_and_gradients()
    libraries = {path.name for path in build.cache_dir().joinpath("kernels").glob("*.so")}
    assert len(libraries) >= 6  # three sources, two targets: different cache entries
    _assert_bitwise_equal(portable, native)


def test_one_and_two_threads_compute_the_same_bits(monkeypatch):
    monkeypatch.delenv(NUM_THREADS_ENV, raising=False)  # restored after the test
    _clear_kernel_caches()
    set_num_threads(1)
    one = _mobilenet_outputs_and_gradients()
    set_num_threads(2)
    two = _mobilenet_outputs_and_gradients()
    _assert_bitwise_equal(two, one)


def test_cache_key_follows_target_flags_and_sources(tmp_path):
    compiler = build._compiler()
    source = build.SOURCE_DIR / depthwise.SOURCE
    native = build._cache_key(compiler, "native", source)
    assert build._cache_key(compiler, "native", source) == native
    assert build._cache_key(compiler, GENERIC_ARCH[platform.machine()], source) != native
    copy = tmp_path / source.name
    copy.write_text(source.read_text() + "\n// edited\n")
    for header in build.SOURCE_DIR.glob("*.h"):
        shutil.copy(header, tmp_path)
    assert build._cache_key(compiler, "native", copy) != native


def test_a_required_kernel_that_does_not_compile_fails_with_the_compilers_message(fresh_build_cache, monkeypatch, tmp_path):
    sources = tmp_path / "kernels"
    shutil.copytree(build.SOURCE_DIR, sources, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    broken = sources / depthwise.SOURCE
    broken.write_text(broken.read_text() + "\nint mindcv_broken_kernel( {\n")
    monkeypatch.setattr(build, "SOURCE_DIR", sources)
    monkeypatch.setenv(build.REQUIRE_ENV, "1")
    # The kernel tests' skipif calls kernel_available(): raising there fails the suite instead of skipping.
    with pytest.raises(KernelBuildError, match=r"could not compile depthwise_conv\.cc") as raised:
        kernel_available()
    assert "mindcv_broken_kernel" in str(raised.value) and "error" in str(raised.value)
    monkeypatch.delenv(build.REQUIRE_ENV)
    _clear_kernel_caches()
    assert not kernel_available()  # not required: MindSpore's operators, with a warning
    assert not any(fresh_build_cache.glob("depthwise_conv-*"))
