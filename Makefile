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

## Lint, then the whole test suite against a real PostgreSQL, failing under 85% coverage.
## The API's tests and the dashboard's run as two pytest processes, one after the other, so the
## browser tests never share an interpreter with what the backend's tests leave behind; coverage
## adds up over both.
test: install lint
	rm -f .coverage .coverage.*
	$(BIN)/pytest --cov --cov-report= --cov-fail-under=0 --durations=15 backend/tests
	$(BIN)/pytest --cov --cov-append --cov-report=term-missing:skip-covered --durations=15 frontend/tests

lint: install
	$(BIN)/flake8 backend frontend bench
	$(BIN)/black --check --quiet backend frontend bench

format: install
	$(BIN)/black backend frontend bench

bench: install
	$(BIN)/python bench/api_bench.py
	$(BIN)/python bench/dashboard_bench.py

clean:
	rm -rf $(VENV) .data .pytest_cache .coverage
