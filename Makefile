# Spendlens developer commands. `make run` starts everything; `make test` is what CI runs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test lint format bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

## Start PostgreSQL (embedded under .data/ unless DATABASE_URL is set), migrate, seed, serve.
run: install
	$(BIN)/spendlens run

## Lint, then the whole test suite against a real PostgreSQL, failing under 85% coverage: the API's
## tests and the dashboard's as two pytest processes side by side (SPENDLENS_TEST_SERIAL=1: one
## after the other), coverage added up over both (scripts/run_tests.py).
test: install lint
	$(BIN)/python scripts/run_tests.py

lint: install
	$(BIN)/flake8 backend frontend bench scripts
	$(BIN)/black --check --quiet backend frontend bench scripts

format: install
	$(BIN)/black backend frontend bench scripts

bench: install
	$(BIN)/python bench/api_bench.py
	$(BIN)/python bench/dashboard_bench.py

clean:
	rm -rf $(VENV) .data .pytest_cache .coverage
