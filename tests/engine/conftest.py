from pathlib import Path

import pytest
from engine_helpers import write_image_folder


@pytest.fixture(scope="session")
def image_folder(tmp_path_factory) -> Path:
    """4 classes: 8 training and 3 validation images each."""
    return write_image_folder(tmp_path_factory.mktemp("folder"), {"train": 8, "val": 3})
