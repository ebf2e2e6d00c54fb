# Every target installs what it needs into .venv on a fresh machine, at the exact versions of requirements.lock.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
LATEST := .venv-latest
NEXT := .venv-next
PREVIOUS_TRANSFORMERS := 5.24.0
PREVIOUS_SERVING := $(VENV)/transformers-$(PREVIOUS_TRANSFORMERS)
LINTED := src tests benchmarks tools
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
# The suite runs in one pytest-xdist worker per core, a test file to a worker (its module fixtures built once).
TEST_WORKERS ?= $(shell nproc)
PYTEST := pytest -q -n $(TEST_WORKERS) --dist loadfile

SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install system lock test test-latest test-next demo bench gpu-check lint format clean presets-table

install: $(STAMP)

# The lock pins every package, pip and torch's CPU build (which lies on local disk) included; geolm itself is
# installed editable on top without resolving anything again.
$(STAMP): pyproject.toml $(LOCK)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet "$$(grep '^pip==' $(LOCK))"
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

# Regenerate the lock: the newest versions pyproject.toml's ranges allow, resolved for this machine.
lock: $(STAMP)
	$(BIN)/pip-compile --quiet --upgrade --all-extras --allow-unsafe --strip-extras --no-emit-index-url \
		--no-emit-find-links --constraint lock-constraints.txt --output-file $(LOCK) pyproject.toml

# A C++ compiler for torch.compile's CPU kernels (geolm train --compile and its tests), and a headless
# browser for the chat page's test (it skips, saying why, where the browser cannot be installed).
system:
	command -v g++ >/dev/null || { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq g++; }
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || { $(SUDO) apt-get update -qq && \
		$(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; } || \
		echo "warning: no Chromium installed; the chat page test will skip"

test: $(STAMP) system $(PREVIOUS_SERVING)/.installed
	$(BIN)/ruff check $(LINTED)
	$(BIN)/python -m $(PYTEST)
	PYTHONPATH=$(PREVIOUS_SERVING) $(BIN)/python -c "import transformers; print('serving on transformers', transformers.__version__)"
	PYTHONPATH=$(PREVIOUS_SERVING) $(BIN)/python -m pytest -q tests/serving/test_serving.py

# geolm serve's seam (geolm.serving.transformers_app) knows two generations of transformers' serving code: `make test`
# runs the serving tests on the locked transformers and again on the last release of the older generation, laid over
# the venv (its dependencies are the lock's).
$(PREVIOUS_SERVING)/.installed: $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --target $(PREVIOUS_SERVING) transformers==$(PREVIOUS_TRANSFORMERS)
	touch $@

# The whole suite in a separate venv with the newest versions the ranges allow (the lock is not used):
# run it at the start of a session; docs/development.md says how to move the lock forward.
test-latest: system
	rm -rf $(LATEST)
	$(PYTHON) -m venv $(LATEST)
	$(LATEST)/bin/python -m pip install --quiet --upgrade pip
	$(LATEST)/bin/python -m pip install --quiet --constraint lock-constraints.txt -e ".[dev,ui,eval,lora]"
	$(LATEST)/bin/python tools/lock_drift.py $(LOCK)
	$(LATEST)/bin/ruff check $(LINTED)
	$(LATEST)/bin/python -m $(PYTEST)

# The whole suite on the newest releases past pyproject.toml's caps (torch stays at the locked CPU build), to see a
# breaking release before users do: it prints what moved past a cap and what failed (docs/development.md).
test-next: $(STAMP) system
	rm -rf $(NEXT)
	$(PYTHON) -m venv $(NEXT)
	$(NEXT)/bin/python -m pip install --quiet --upgrade pip
	$(BIN)/python tools/caps.py uncapped pyproject.toml > $(NEXT)/uncapped.txt
	$(NEXT)/bin/python -m pip install --quiet --constraint lock-constraints.txt -r $(NEXT)/uncapped.txt
	$(NEXT)/bin/python -m pip install --quiet --no-deps -e .
	$(NEXT)/bin/python tools/lock_drift.py $(LOCK)
	$(NEXT)/bin/ruff check $(LINTED)
	$(NEXT)/bin/python -m $(PYTEST) --junit-xml=$(NEXT)/results.xml; status=$$?; \
		$(NEXT)/bin/python tools/caps.py report pyproject.toml $(NEXT)/results.xml; exit $$status

demo: $(STAMP)
	$(BIN)/geolm demo --minutes 3

# Recount the parameters `geolm presets` prints (a test fails when the shipped table is stale).
presets-table: $(STAMP)
	$(BIN)/python -c "from geolm.cli.presets import write_table; write_table()"

bench: $(STAMP) system
	$(BIN)/python benchmarks/run.py

# On a machine with a CUDA GPU and its own torch (PYTHON=python3 there), in about 10 minutes: the GPU check (every
# family trained under bf16 and fp16 with torch.compile, cached decoding, throughput against HF Llama; writes
# docs/gpu.md), FlexAttention's tests, which skip without CUDA, and the GPU section of docs/benchmarks.md. Each
# step's results are copied to $OUT when set, as soon as it ends; a failed step does not stop the next.
gpu-check:
	status=0; \
	PYTHONPATH=src:. $(PYTHON) benchmarks/gpu_check.py || status=1; \
	if [ -n "$$OUT" ]; then cp docs/gpu.md docs/gpu.json "$$OUT"/ || true; fi; \
	PYTHONPATH=src:. $(PYTHON) -m pytest -q -p no:cacheprovider tests/curvature/test_kernels.py -k "flex or cuda" || status=1; \
	PYTHONPATH=src:. $(PYTHON) benchmarks/run.py --only curvature_gpu || status=1; \
	if [ -n "$$OUT" ]; then cp docs/benchmarks.md docs/benchmarks.json "$$OUT"/; fi; \
	exit $$status

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: $(STAMP)
	$(BIN)/ruff check --fix $(LINTED)
	$(BIN)/ruff format $(LINTED)

clean:
	rm -rf $(VENV) $(LATEST) $(NEXT) build dist src/*.egg-info .pytest_cache .ruff_cache
