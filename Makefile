PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo test test-fast lint bench clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev,parquet,server,bench]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	bash scripts/demo.sh

lint: $(STAMP)
	$(BIN)/ruff check tdm tests bench setup.py
	$(BIN)/ruff format --check tdm tests bench setup.py
	$(BIN)/mypy

test: lint
	$(BIN)/pytest -n 2 -q

# the suite without the tests marked slow (wheel build, large files, interrupts)
test-fast: $(STAMP)
	$(BIN)/pytest -n 2 -q -m "not slow"

bench: $(STAMP)
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
