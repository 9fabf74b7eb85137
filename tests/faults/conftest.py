from pathlib import Path
from typing import Dict

import pytest

import scenarios
from fault_helpers import Background
from tests.engine.engine_helpers import write_image_folder

# Session fixtures that run in the background from the first test on; see _start_background_scenarios.
BACKGROUND = ("references", "kill_chains", "second_signal", "msrun_stop")


@pytest.fixture(scope="session")
def fault_data(tmp_path_factory) -> Path:
    """4 classes: 4 training and 2 validation images each (2 steps per epoch)."""
    return write_image_folder(tmp_path_factory.mktemp("fault_data"), {"train": 4, "val": 2})


@pytest.fixture(scope="session")
def resume_data(tmp_path_factory) -> Path:
    """4 classes: 8 training and 2 validation images each (4 steps of 8 per epoch)."""
    return write_image_folder(tmp_path_factory.mktemp("resume_data"), {"train": 8, "val": 2})


@pytest.fixture(scope="session")
def references(resume_data, tmp_path_factory) -> Dict[int, Background]:
    """The uninterrupted run in graph (0) and PyNative (1) mode, once per session."""
    return {mode: Background(scenarios.reference, resume_data, tmp_path_factory.mktemp(f"reference{mode}"), mode) for mode in (0, 1)}


@pytest.fixture(scope="session")
def kill_chains(resume_data, references, tmp_path_factory) -> Dict[int, Background]:
    return {mode: Background(scenarios.kill_chain, resume_data, tmp_path_factory.mktemp(f"chain{mode}"), mode, references[mode]) for mode in (0, 1)}


@pytest.fixture(scope="session")
def second_signal(resume_data, tmp_path_factory) -> Background:
    return Background(scenarios.second_signal_exits_at_once, resume_data, tmp_path_factory.mktemp("second_signal"))


@pytest.fixture(scope="session")
def msrun_stop(resume_data, tmp_path_factory) -> Background:
    return Background(scenarios.sigterm_under_msrun, resume_data, tmp_path_factory.mktemp("msrun_stop"))


def _waits_for_background(item: pytest.Item) -> bool:
    return any(name in item.fixturenames for name in BACKGROUND)


def pytest_collection_modifyitems(items) -> None:
    """Run this folder's other tests first and the tests that wait for the background scenarios last.

    An autouse fixture of this conftest only starts with this folder's first test; in path order
    that came halfway through the suite, so the scenarios (about 6 minutes of training processes
    in a row) overlapped nothing before it and the suite waited for them (measured: 18 min).
    """
    here = Path(__file__).parent

    def group(item: pytest.Item) -> int:
        if _waits_for_background(item):
            return 2
        return 0 if here in item.path.parents else 1

    items.sort(key=group)  # stable: path order within each group


@pytest.fixture(scope="session", autouse=True)
def _start_background_scenarios(request):
    """Start the scenarios any selected test needs before the first test, so they overlap the others."""
    for name in BACKGROUND:
        if any(name in item.fixturenames for item in request.session.items):
            request.getfixturevalue(name)
