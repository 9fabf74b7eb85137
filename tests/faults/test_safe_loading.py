"""No unsafe deserialisation in the code; downloads are verified by sha256 before use."""
import ast
import hashlib
import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from fault_helpers import REPO
from mindcv.checkpoint import download_cached
from mindcv.errors import CheckpointError
from mindcv.version import __version__

PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "joblib", "shelve", "marshal"}
PICKLE_CALLS = {"load", "loads", "Unpickler", "open", "read_pickle"}
SAFE_YAML_LOADERS = {"SafeLoader", "CSafeLoader"}


def _name(node: ast.AST) -> str:
    """Dotted name of a call's function: 'yaml.load', 'eval', ..."""
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


def _keyword(call: ast.Call, name: str):
    return next((k.value for k in call.keywords if k.arg == name), None)


def _is_constant(node, value) -> bool:
    return isinstance(node, ast.Constant) and node.value is value


def unsafe_calls(source: str) -> List[str]:
    """Lines that could run code hidden in data: eval/exec, pickle-family loads, unsafe YAML, torch/numpy pickles."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module in PICKLE_MODULES:
            found += [f"{node.lineno}: from {node.module} import {a.name}" for a in node.names if a.name in PICKLE_CALLS]
        if not isinstance(node, ast.Call):
            continue
        name = _name(node.func)
        module, _, function = name.rpartition(".")
        if name in ("eval", "exec"):
            unsafe = True
        elif module in PICKLE_MODULES or function == "read_pickle":
            unsafe = function in PICKLE_CALLS
        elif module == "yaml":
            loader = _keyword(node, "Loader") or (node.args[1] if len(node.args) > 1 else None)
            unsafe = function in ("unsafe_load", "unsafe_load_all", "full_load", "full_load_all") or (
                function in ("load", "load_all") and _name(loader).rpartition(".")[2] not in SAFE_YAML_LOADERS
            )
        elif name == "torch.load":
            unsafe = not _is_constant(_keyword(node, "weights_only"), True)
        elif name in ("np.load", "numpy.load"):
            allow = _keyword(node, "allow_pickle")
            unsafe = allow is not None and not _is_constant(allow, False)
        else:
            unsafe = False
        if unsafe:
            found.append(f"{node.lineno}: {ast.unparse(node)}")
    return found


def _project_sources() -> List[Path]:
    files = sorted(REPO.glob("*.py"))
    for folder in ("mindcv", "tools", "benchmarks"):
        files += sorted((REPO / folder).rglob("*.py"))
    return files


@pytest.mark.parametrize("snippet", [
    "eval(text)", "exec(code, env)", "pickle.load(f)", "pickle.loads(data)", "from pickle import loads",
    "joblib.load(path)", "pd.read_pickle(path)", "yaml.load(text)", "yaml.load(text, Loader=yaml.Loader)",
    "yaml.unsafe_load(text)", "yaml.full_load(text)", "torch.load(path)", "torch.load(path, weights_only=False)",
    "np.load(path, allow_pickle=True)",
])
def test_the_scanner_finds_unsafe_loading(snippet):
    assert unsafe_calls(snippet)


@pytest.mark.parametrize("snippet", [
    "yaml.safe_load(text)", "yaml.load(text, Loader=yaml.SafeLoader)", "torch.load(path, weights_only=True)",
    "np.load(path)", "np.load(path, allow_pickle=False)", "model.eval()", "errors = (pickle.UnpicklingError, OSError)",
])
def test_the_scanner_passes_safe_loading(snippet):
    assert unsafe_calls(snippet) == []


def test_no_unsafe_deserialisation_in_the_project():
    sources = _project_sources()
    assert REPO / "setup.py" in sources and REPO / "mindcv" / "checkpoint" / "io.py" in sources
    found = {str(path.relative_to(REPO)): unsafe_calls(path.read_text()) for path in sources}
    assert {path: lines for path, lines in found.items() if lines} == {}


def test_setup_reads_the_version_without_executing_a_file():
    done = subprocess.run([sys.executable, "setup.py", "--version"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == __version__


def test_download_without_published_hash_is_pinned_at_first_use(tmp_path):
    source = tmp_path / "weights.ckpt"
    source.write_bytes(b"first published bytes")
    cache = tmp_path / "cache"
    cached = download_cached(source.as_uri(), folder=cache, progress=False)
    record = cache / "weights.ckpt.sha256"
    assert record.read_text().strip() == hashlib.sha256(b"first published bytes").hexdigest()
    assert download_cached(source.as_uri(), folder=cache, progress=False) == cached

    cached.write_bytes(b"tampered bytes")
    with pytest.raises(CheckpointError, match=f"{cached}: sha256 is {hashlib.sha256(b'tampered bytes').hexdigest()}, but"):
        download_cached(source.as_uri(), folder=cache, progress=False)

    # A new download of a file that changed at the source is refused too, and not kept.
    cached.unlink()
    source.write_bytes(b"replaced at the source")
    with pytest.raises(CheckpointError, match="recorded .* at the first download"):
        download_cached(source.as_uri(), folder=cache, progress=False)
    assert sorted(p.name for p in cache.iterdir()) == ["weights.ckpt.sha256"]


def test_cached_file_from_before_pinning_is_pinned_on_its_next_use(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "old.ckpt").write_bytes(b"cached earlier")
    download_cached("https://example.invalid/old.ckpt", folder=cache, progress=False)
    assert (cache / "old.ckpt.sha256").read_text().strip() == hashlib.sha256(b"cached earlier").hexdigest()
