# The two set-up commands: `make demo` and `make test` (see README.md).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
ONNX := model_repository/unet/1/model.onnx
STUB_STAMP := $(VENV)/.triton-installed
PERF := $(VENV)/perf/bin/perf_analyzer

.PHONY: demo test deps triton model perf-analyzer validate bench gpu-check gpu-carry clean

demo: deps triton model
	$(PY) -m clients.demo

test: deps triton model perf-analyzer
	$(PY) -m serving.pipeline validate
	$(PY) -m serving.pipeline generate --check
	$(PY) -m pytest

deps: $(VENV)/.deps-installed
$(VENV)/.deps-installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	@# A venv from before the CUDA 13 move holds cupy-cuda12x, which shares the cupy package.
	$(PY) -m pip uninstall -q -y cupy-cuda12x nvidia-cuda-nvrtc-cu12 2>/dev/null || true
	@# opencv-python-headless and the contrib build that replaced it both install cv2/.
	$(PY) -m pip uninstall -q -y opencv-python-headless 2>/dev/null || true
	$(PY) -m pip install -q -r requirements.txt
	@# The project itself, editable: tests, bench scripts and the Triton stubs import it installed.
	$(PY) -m pip install -q --no-deps -e .
	touch $@

triton: $(STUB_STAMP)
$(STUB_STAMP): $(VENV)/.deps-installed serving/server/install.py
	$(PY) -m serving.server.install
	touch $@

model: $(ONNX)
$(ONNX): $(VENV)/.deps-installed segmentation/tflite_to_onnx.py segmentation/build.py model_repository/unet/model.onnx.sha256
	$(PY) -m segmentation.build

perf-analyzer: $(PERF)
$(PERF): $(STUB_STAMP) clients/perf/install.py
	$(PY) -m clients.perf.install

validate: deps
	$(PY) -m serving.pipeline validate

bench: deps triton model perf-analyzer
	$(PY) -m bench.ops_bench --tag local
	$(PY) -m bench.pipeline_bench --tag local

# The GPU check (docs/gpu.md): on a GPU host, inside 8 minutes; without one it writes the
# environment report, says there is no GPU and fails.
GPU_CHECK_OUT ?= out/gpu-check
gpu-check: deps triton model perf-analyzer
	$(PY) -m bench.gpu_check --out $(GPU_CHECK_OUT)

# The carry for one call on the lent GPU machine (.gpu/, git-ignored; docs/gpu.md).
gpu-carry: model
	bash bench/gpu/build_carry.sh

clean:
	rm -rf $(VENV) build out $(ONNX)
