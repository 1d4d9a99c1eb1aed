# Podium developer entry points. Run `make help` for the list.
#
# Everything runs inside .venv (created on first use). The editable install is redone only
# when pyproject.toml changes, so repeated `make test` is fast.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON      ?= python3
VENV        ?= .venv
BIN         := $(VENV)/bin
STAMP       := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
PIP         := $(BIN)/python -m pip --disable-pip-version-check
PYTEST_ARGS ?=
# Test processes (pytest-xdist, a file per process at a time; 0 = one process). Most of the
# suite waits on servers, subprocesses and leases, so more processes than cores pays.
TEST_PROCESSES ?= 3
BENCH_ARGS  ?=
ENGINE_ARGS ?=
API_ARGS    ?=
KNOWLEDGE_ARGS ?=
LANGGRAPH_VENV := $(CURDIR)/.bench/langgraph-venv
LANGGRAPH_BIN  := $(LANGGRAPH_VENV)/bin/langgraph
LINT_PATHS  ?= src tests benchmarks
DEMO_DB     ?= .podium-demo.db
HOST        ?= 127.0.0.1
PORT        ?= 8000

.PHONY: help venv install browser-deps test test-postgres lint bench bench-knowledge demo demo-flow serve dev clean

help: ## Show this list
	@echo "Podium make targets:"
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) \
	  | awk 'BEGIN {FS = ":.*## "}; {printf "  make %-16s %s\n", $$1, $$2}'
	@echo
	@echo "Variables: PYTEST_ARGS='-k name -x'  TEST_PROCESSES=3  BENCH_ARGS=--quick  PODIUM_TEST_DATABASE_URL=postgresql://...  PYTHON=python3"
	@echo "           PORT=8000 HOST=127.0.0.1 (make serve; make dev takes PORT, always on 127.0.0.1)"

# --- environment --------------------------------------------------------------------------

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install --upgrade pip
	$(PIP) install -e ".[dev]"
	@touch $@

venv: $(STAMP) ## Create .venv and install podium with the dev extra (only when needed)
install: $(STAMP) ## Same as `make venv`

$(BENCH_STAMP): $(STAMP)
	$(PIP) install -e ".[bench]"
	@touch $@

# The browser tests' npm packages (axe-core, pinned by tests/browser/package-lock.json). npm ci
# runs only when the lockfile is newer than what is installed, so this works offline once done.
BROWSER_STAMP := tests/browser/node_modules/.package-lock.json

$(BROWSER_STAMP): tests/browser/package.json tests/browser/package-lock.json
	@command -v npm >/dev/null || { echo "make browser-deps: npm is missing (apt-get install nodejs npm; bash .ci/run installs it)" >&2; exit 1; }
	npm ci --prefix tests/browser --no-audit --no-fund
	@touch $@

browser-deps: $(BROWSER_STAMP) ## Install the browser tests' npm packages (axe-core) in tests/browser

# --- checks -------------------------------------------------------------------------------

test: $(STAMP) $(BROWSER_STAMP) ## Run the tests (also on PostgreSQL when PODIUM_TEST_DATABASE_URL is set)
	@if [ -n "$${PODIUM_TEST_DATABASE_URL:-}" ]; then \
	  echo "make test: backends SQLite + PostgreSQL ($${PODIUM_TEST_DATABASE_URL})"; \
	else \
	  echo "make test: backend SQLite only (use 'make test-postgres' for PostgreSQL too)"; \
	fi
	@echo "+ $(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)"
	@$(BIN)/pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS) || { rc=$$?; echo "make test: pytest exited with $$rc"; exit $$rc; }

test-postgres: $(STAMP) ## Run the tests on SQLite and a throwaway PostgreSQL cluster
	scripts/with-postgres $(MAKE) --no-print-directory test

lint: $(STAMP) ## ruff check, ruff format --check, mypy (runs all three, fails if any fails)
	@rc=0; \
	echo "+ ruff check $(LINT_PATHS)"; $(BIN)/ruff check $(LINT_PATHS) || rc=1; \
	echo "+ ruff format --check $(LINT_PATHS)"; $(BIN)/ruff format --check $(LINT_PATHS) || rc=1; \
	echo "+ mypy"; $(BIN)/mypy || rc=1; \
	if [ $$rc -ne 0 ]; then echo "make lint: FAILED (see above; 'ruff check --fix' and 'ruff format' fix some)"; fi; \
	exit $$rc

# --- running things -----------------------------------------------------------------------

# LangGraph's server gets a virtualenv of its own: langgraph-api pins jsonschema-rs below what
# schemathesis (dev extra) needs, so the two cannot share .venv.
$(LANGGRAPH_BIN):
	$(PYTHON) -m venv $(LANGGRAPH_VENV)
	$(LANGGRAPH_VENV)/bin/python -m pip --disable-pip-version-check install "langgraph-cli[inmem]>=0.4"

# W5 and H2's multi-process layouts run on a throwaway PostgreSQL cluster (scripts/with-postgres).
bench: $(BENCH_STAMP) $(LANGGRAPH_BIN) ## Engine and API benchmarks vs LangGraph, knowledge vs tantivy (BENCH_ARGS=--quick)
	scripts/with-postgres sh -c '$(BIN)/python benchmarks/engine.py --pg "$$PODIUM_TEST_DATABASE_URL" $(BENCH_ARGS) $(ENGINE_ARGS) && $(BIN)/python benchmarks/api.py --pg "$$PODIUM_TEST_DATABASE_URL" --langgraph-bin $(LANGGRAPH_BIN) $(BENCH_ARGS) $(API_ARGS)'
	$(MAKE) --no-print-directory bench-knowledge

bench-knowledge: $(BENCH_STAMP) ## Knowledge store vs tantivy on SQLite and a throwaway PostgreSQL (KNOWLEDGE_ARGS)
	scripts/with-postgres sh -c '$(BIN)/python benchmarks/knowledge.py --pg "$$PODIUM_TEST_DATABASE_URL" $(BENCH_ARGS) $(KNOWLEDGE_ARGS)'

demo: $(STAMP) ## The shipped packs on an embedded server, watched live (podium demo; docs/demo.md)
	$(BIN)/podium demo

demo-flow: $(STAMP) ## Run the example flow examples/flows/chain.json
	$(BIN)/podium run examples/flows/chain.json --input '{"text": "Hello   Durable World"}' --db $(DEMO_DB)

serve: $(STAMP) ## Serve the API and the console (./podium.db) on HOST:PORT, default 127.0.0.1:8000
	$(BIN)/podium serve --host $(HOST) --port $(PORT)

dev: $(STAMP) ## Local dev server on 127.0.0.1:PORT: makes admin and a demo app, prints a login link
	$(BIN)/podium serve --dev --port $(PORT)

clean: ## Remove .venv, caches, build output and the demo database
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache build dist .bench tests/browser/node_modules
	rm -f $(DEMO_DB) $(DEMO_DB)-wal $(DEMO_DB)-shm $(DEMO_DB)-journal
	find src tests benchmarks -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
	find src -name '*.egg-info' -type d -prune -exec rm -rf {} + 2>/dev/null || true
