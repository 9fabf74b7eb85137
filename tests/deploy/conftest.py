import pytest
from random_network import random_network


@pytest.fixture
def network():
    return random_network()
