import mindspore.dataset as ds
import pytest


@pytest.fixture
def seeded():
    """Fix the data pipeline seed for the test and restore it afterwards."""
    previous = ds.config.get_seed()
    ds.config.set_seed(1234)
    yield 1234
    ds.config.set_seed(previous)
