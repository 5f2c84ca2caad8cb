# Mercato — `make run` gives a working shop; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.9
TOOLS := .tools
UV := $(TOOLS)/bin/uv
VENV := .venv
BIN := $(VENV)/bin
PYTEST_WORKERS ?= 2

.PHONY: run test test-pg lint check install clean-data bench openapi

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(BIN)/mercato: $(UV) uv.lock pyproject.toml
	UV_PYTHON=$(PYTHON) $(UV) sync --frozen --quiet
	@touch $(BIN)/mercato

install: $(BIN)/mercato

run: install
	$(BIN)/mercato serve --demo

lint: install
	$(BIN)/ruff check src tests bench
	$(BIN)/lint-imports

# The whole suite on the embedded PostgreSQL (or MERCATO_TEST_DATABASE_URL, a superuser URL).
test: lint
	$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not perf" --cov=mercato --cov-report=term:skip-covered --cov-report=xml -q
	$(BIN)/pytest -m perf -q -p no:cacheprovider
	@echo "Coverage of domain and service code (the bar is 90 %):"
	$(BIN)/coverage report --include='*/mercato/*/domain.py,*/mercato/*/service.py,*/mercato/*/service/*.py' \
		--skip-covered --fail-under=90

# The same suite against the machine's PostgreSQL 15 (CI runs both).
test-pg: lint
	MERCATO_TEST_DATABASE_URL=$${MERCATO_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres} \
		$(BIN)/pytest -n $(PYTEST_WORKERS) -m "not perf" -q -p no:cacheprovider

openapi: install
	$(BIN)/mercato openapi > openapi.json

clean-data:
	rm -rf .mercato .mercato-test
