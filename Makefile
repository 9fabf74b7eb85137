PYTHON ?= python
export GLOG_v ?= 3

.PHONY: install install-test test demo

DEMO_CONFIG := configs/mobilenetv2/mobilenetv2_100_demo_cpu.yaml
DEMO_DIR ?= ./ckpt/demo

# A C++ compiler builds mindcv's CPU kernels on first use (about 2x faster CPU training);
# without one mindcv falls back to MindSpore's convolution. Installed here where apt-get can.
install:
	$(PYTHON) -m pip install -r requirements.txt
	$(PYTHON) -m pip install --no-deps -e .
	@command -v c++ >/dev/null || command -v g++ >/dev/null || \
	  (command -v apt-get >/dev/null && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq g++) || \
	  echo "note: no C++ compiler: mindcv's CPU kernels stay off (install g++ for faster CPU training)"

# torch (CPU, from the local wheel) is only a reference for the weight-conversion tests;
# OpenMPI provides mpirun for the data-parallel launch test, iproute2 the network namespace
# of the two-host tests.
install-test: install
	$(PYTHON) -m pip install -r requirements-test.txt
	$(PYTHON) -m pip install torch==2.13.0
	command -v mpirun >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq openmpi-bin)
	command -v ip >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq iproute2)

test: install-test
	$(PYTHON) -m pytest -q tests

# Train MobileNetV2-1.0 on the embedded Fashion-MNIST subset (CPU), then validate best.ckpt.
demo: install
	@start=$$(date +%s); \
	$(PYTHON) train.py -c $(DEMO_CONFIG) --ckpt_save_dir $(DEMO_DIR) && \
	$(PYTHON) validate.py -c $(DEMO_CONFIG) --ckpt_path $(DEMO_DIR)/best.ckpt && \
	echo "demo: training and validation took $$(( $$(date +%s) - start )) s"
