# Nexum developer commands. `make run` and `make test` work on a fresh machine:
# they find a Python 3.12+, install uv beside the project if it is missing, and sync
# the locked dependencies into .venv.
SHELL := /bin/sh
PYTHON := $(shell scripts/find-python)
UV_VERSION := 0.13.8
UV := $(shell command -v uv 2>/dev/null || echo .tools/bin/uv)
VENV := .venv
export UV_PYTHON := $(PYTHON)
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)
export NEXUM_DATABASE_URL ?= sqlite:///nexum.db

.PHONY: run test lint format install install-dev bench clean

ifeq ($(PYTHON),)
$(error no Python 3.12+ found; see the message above)
endif

.tools/bin/uv:
	$(PYTHON) -m venv .tools
	.tools/bin/python -m pip install --quiet "uv==$(UV_VERSION)"

install: $(UV)
	$(UV) sync --frozen --no-dev

install-dev: $(UV)
	$(UV) sync --frozen --all-extras

## run: install, migrate the database (NEXUM_DATABASE_URL, default sqlite:///nexum.db), serve on :8090
run: install
	$(VENV)/bin/nexum migrate up
	$(VENV)/bin/python run.py

## test: install everything and run the whole suite (lint, types, import layers, tests)
test: install-dev lint
	$(VENV)/bin/python -m pytest tests/ -n 2 --dist loadgroup

lint: install-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

format: install-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

## bench: postings per second against pgbench's TPC-B on the same PostgreSQL
bench: install-dev
	$(VENV)/bin/python -m bench.transfers

clean:
	rm -rf $(VENV) .tools .pytest_cache .mypy_cache .ruff_cache
