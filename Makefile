# Two commands: `make run` serves the web app and the API (embedded PostgreSQL unless DATABASE_URL is set);
# `make test` runs every check. Each creates .venv with the first Python >= 3.11 it finds.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell for p in python3 python3.11 python3.12 python3.13 python3.14 python; do \
	if command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; \
	then echo $$p; break; fi; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
WITH_DB := $(BIN)/python -m backend.embedded_db --
PIP_FLAGS ?= --quiet --disable-pip-version-check
# Test processes (pytest-xdist), each with its own test database.
TEST_WORKERS ?= 2

.PHONY: help run test lint format typecheck clean-db browser bench wrk

help:
	@echo "make run        serve the web app and the API on http://127.0.0.1:$${PORT:-8000}/ (embedded PostgreSQL unless DATABASE_URL)"
	@echo "make test       ruff, mypy, migrations check, OpenAPI validation and the test suite"
	@echo "make bench      the scaling curve: 500/2,000/8,000 officers (SCALE=force|national: one size; not in make test)"
	@echo "make typecheck  mypy"
	@echo "make format     ruff format and fixes"

$(STAMP): pyproject.toml
	@if [ -z "$(PYTHON)" ]; then echo "Python 3.11 or newer is needed (none found on PATH)." >&2; exit 1; fi
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(BIN)/python -m pip install $(PIP_FLAGS) -e '.[dev]'
	@touch $(STAMP)

run: $(STAMP)
	$(BIN)/python -m backend.serve

# Browser tests drive Debian's Chromium and the HTTP benchmarks drive wrk: each is installed
# where we may (root with apt); without it, the browser tests skip and `make bench` says why.
define apt_tool
	@if command -v $(1) >/dev/null 2>&1; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "Installing $(1) (Debian package '$(1)')..."; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1) >/dev/null 2>&1 || \
		{ DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null 2>&1 && \
		  DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1) >/dev/null 2>&1; } || \
		echo "Could not install $(1)."; \
	else echo "No $(1) and no way to install it here."; fi
endef

browser:
	$(call apt_tool,chromium)

wrk:
	$(call apt_tool,wrk)

SCALE ?= curve
bench: $(STAMP) wrk
	$(WITH_DB) $(BIN)/python -m bench.run --scale $(SCALE) $(BENCH_ARGS)

test: $(STAMP) browser wrk
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(WITH_DB) bash -c 'set -e; \
		mypy backend welfare schedules bench; \
		python manage.py makemigrations --check --dry-run; \
		python manage.py spectacular --validate --fail-on-warn --file /dev/null; \
		python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS)'

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

typecheck: $(STAMP)
	$(WITH_DB) $(BIN)/mypy backend welfare schedules bench

clean-db:
	$(BIN)/python -m backend.embedded_db stop
	rm -rf .data/pg
