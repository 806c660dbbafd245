# The habits everyone uses: make demo | test | up | down | status | lint | bench.
# Every target installs what it needs on first use (a fresh clone needs nothing else).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export GX_ANALYTICS_ENABLED := False

.DEFAULT_GOAL := help
.PHONY: help install demo test test-unit test-integration lint up down status bench clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

$(STAMP): requirements.txt requirements-dev.txt pyproject.toml
	@echo "==> installing into $(VENV) (first run takes a few minutes; log: $(VENV)/install.log)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@( $(PY) -m pip install -U pip && \
	   $(PY) -m pip install -r requirements-dev.txt && \
	   $(PY) -m pip install --no-deps -e . && \
	   $(PY) -m pip check ) > $(VENV)/install.log 2>&1 \
	 || { grep -v '^WARNING: Location' $(VENV)/install.log | tail -40; echo "install failed: see $(VENV)/install.log"; exit 1; }
	@touch $@

install: $(STAMP)  ## create .venv and install pinned dependencies

demo: $(STAMP)  ## run the pipeline end to end on the embedded stack and print what it computed
	$(PY) -m clickstream demo $(DEMO_ARGS)

test: $(STAMP)  ## run every test tier (unit, integration, e2e)
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: $(STAMP)  ## pure-logic tests only (seconds)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP)  ## tests against the embedded AWS server and Kafka broker
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff + mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

up: $(STAMP)  ## start the embedded stack and leave it running
	$(PY) -m clickstream local up

down: $(STAMP)  ## stop the embedded stack
	$(PY) -m clickstream local down

status: $(STAMP)  ## show what the embedded stack is running
	$(PY) -m clickstream local status

bench: $(STAMP)  ## run the benchmarks (figures go to docs/BENCHMARKS.md by hand, with the command)
	$(PY) -m benchmarks.ingest

clean:  ## remove the venv and local state
	rm -rf $(VENV) .clickstream .pytest_cache .mypy_cache .ruff_cache
