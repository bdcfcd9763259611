# autodip — set-up, demo and tests. Everything goes into .venv on first use.
#   make demo   restore the bundled sample with default settings -> demo-output/
#   make test   install with dev extras and run the test suite (what CI runs)
# A GPU user overrides the torch build, e.g. `make test TORCH_VERSION=2.13.0 TORCH_INDEX=--index-url=...`.
# Ray (dev extra, `bench run --backend ray`) is pinned too: its defaults change between releases.

PYTHON        ?= python3
TORCH_VERSION ?= 2.13.0
TORCH_INDEX   ?=
RAY_VERSION   ?= 2.60.0
VENV          := .venv
BIN           := $(VENV)/bin
STAMP         := $(VENV)/.installed
DEV_STAMP     := $(VENV)/.installed-dev
CONSTRAINTS   := $(VENV)/constraints.txt

.PHONY: demo test test-slow lint bench-speed reports-256 clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(CONSTRAINTS): $(BIN)/python Makefile
	printf 'torch==%s\nray==%s\n' "$(TORCH_VERSION)" "$(RAY_VERSION)" > $@

# torch first, pinned, so nothing later can pull another build.
$(STAMP): pyproject.toml $(CONSTRAINTS)
	$(BIN)/pip install --quiet $(TORCH_INDEX) "torch==$(TORCH_VERSION)"
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e .
	touch $@

$(DEV_STAMP): $(STAMP)
	$(BIN)/pip install --quiet -c $(CONSTRAINTS) -e ".[dev]"
	touch $@

demo: $(STAMP)
	$(BIN)/python -m autodip.demo demo-output

test: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not slow" -q --doctest-modules src/autodip tests

test-slow: $(DEV_STAMP)
	$(BIN)/python -m pytest -m slow -q

lint: $(DEV_STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks

bench-speed: $(STAMP)
	$(BIN)/python benchmarks/speed.py --out benchmarks/results/speed.md

# The 256² analyses, replayed from the committed sweep caches (benchmarks/dev256_queue.sh fills
# them): rerun after the caches grow, then commit benchmarks/results. A few minutes; nothing trains.
REPLAY := PYTHONPATH=src:benchmarks OMP_NUM_THREADS=1 $(BIN)/python
reports-256: $(STAMP)
	$(REPLAY) benchmarks/guard.py
	$(REPLAY) benchmarks/guard.py --network hourglass-w32 --out benchmarks/results/guard-w32.md
	$(REPLAY) benchmarks/cifs_scaling.py
	$(REPLAY) benchmarks/choose256.py
	$(REPLAY) benchmarks/auto256.py
	$(REPLAY) benchmarks/ensemble_vs_net.py
	if [ -f benchmarks/results/dev-full/sweep.json ]; then \
	  $(REPLAY) benchmarks/guard.py --runs benchmarks/results/dev-full \
	    --out benchmarks/results/guard-full.md && \
	  $(REPLAY) benchmarks/cifs_scaling.py --runs benchmarks/results/dev-full \
	    --out benchmarks/results/cifs_scaling-full.md; fi
	if [ -f benchmarks/results/dev256-own/sweep.json ]; then \
	  $(REPLAY) benchmarks/osc_window.py --runs benchmarks/results/dev256-own && \
	  $(BIN)/autodip bench report benchmarks/results/dev256-own; fi

clean:
	rm -rf $(VENV) demo-output .pytest_cache .ruff_cache
