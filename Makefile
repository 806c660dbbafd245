# The habits everyone uses: make demo | test | up | down | status | lint | bench.
# Every target installs what it needs on first use (a fresh clone needs nothing else).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp
export JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION := 20
export GX_ANALYTICS_ENABLED := False
# Keep compiled bytecode (__pycache__, git-ignored) even where the shell sets
# PYTHONDONTWRITEBYTECODE=1, as this machine's does: without it every process recompiles the
# project's modules, and pytest re-rewrites the asserts of ~450 test modules in every worker
# (collecting the fast tier took 19.3 s that way, 8.6 s with the cache; `make test-fast` 138.7 s
# before, 131.0 s with a warm cache: docs/BENCHMARKS.md "Test suite wall time").
export PYTHONDONTWRITEBYTECODE :=

.DEFAULT_GOAL := help

.PHONY: help install lock system-deps airflow grafana demo test test-fast test-unit test-integration lint up down status bench clean synth rehearse mwaa-lock cdk-install lambda-wheels

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

# uv installs the same locked set as pip would (the same 243 packages and versions, compared on
# 2026-12-07), its wheels in parallel: 51 s with bytecode compiled, where pip took about 3 minutes
# of every clean-clone CI run. pip still checks the result.
UV_VERSION := 0.13.9

$(STAMP): requirements.txt requirements-dev.txt requirements.lock pyproject.toml
	@echo "==> installing into $(VENV) (first run takes a minute or two; log: $(VENV)/install.log)"
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@( $(PY) -m pip install -U pip && \
	   $(PY) -m pip install uv==$(UV_VERSION) && \
	   $(VENV)/bin/uv pip install --python $(PY) --compile-bytecode -r requirements-dev.txt -c requirements.lock && \
	   $(VENV)/bin/uv pip install --python $(PY) --no-deps -e . && \
	   $(PY) -m pip check ) > $(VENV)/install.log 2>&1 \
	 || { grep -v '^WARNING: Location' $(VENV)/install.log | tail -40; echo "install failed: see $(VENV)/install.log"; exit 1; }
	@touch $@

install: $(STAMP)  ## create .venv and install the locked dependencies (requirements.lock)

lock:  ## re-resolve requirements-dev.txt into requirements.lock (after changing a pin)
	@scripts/lock.sh

system-deps: $(STAMP)  ## Debian's chromium (browser test) and prometheus (make up), via apt-get if missing
	@scripts/system-deps.sh

demo: $(STAMP)  ## run the pipeline end to end on the embedded stack and print what it computed
	$(PY) -m clickstream demo $(DEMO_ARGS)

# pytest-xdist: TEST_WORKERS processes, each with its own AWS-compatible server and Kafka broker;
# a test file stays on one worker (its module fixtures start once) and the long files go first
# (tests/conftest.py). docs/BENCHMARKS.md "Test suite wall time" has the measured times: since the
# speed layer stopped loading the AWS server (ADR 0010) the suite waits more than it computes, and
# 3 workers on 2 cores took 7 min 29 s against 2 workers' 8 min 27 s, both green, back to back.
TEST_WORKERS ?= 3
# The fast tier waits on its servers more than it computes: 3 workers on 2 cores measured
# 85.9 s and 86.3 s against 2 workers' 90.1, 95.7 and 91.7 s (docs/BENCHMARKS.md).
FAST_WORKERS ?= 3

test: $(STAMP) system-deps  ## run every test tier (unit, infra, integration, e2e), TEST_WORKERS=3 in parallel
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile --no-loadscope-reorder $(PYTEST_ARGS)

test-fast: $(STAMP)  ## the edit loop: pure logic and the quick integration tests (not marked slow)
	$(PY) -m pytest -n $(FAST_WORKERS) --dist loadfile --no-loadscope-reorder -m "not slow" --hypothesis-profile=fast tests/unit tests/integration $(PYTEST_ARGS)

test-unit: $(STAMP)  ## pure-logic tests only
	$(PY) -m pytest -n $(FAST_WORKERS) tests/unit $(PYTEST_ARGS)

test-integration: $(STAMP)  ## tests against the embedded AWS server and Kafka broker
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

lint: $(STAMP)  ## ruff + mypy + import contracts (layers, no cycles; [tool.importlinter] in pyproject.toml)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports

# A lake without history gets HISTORY of simulated past traffic, backfilled through Airflow
# (`clickstream local up --history`; a lake that has some is left as it is). HISTORY=0 skips it.
HISTORY ?= 7d

up: $(STAMP) system-deps  ## run the platform with live traffic until Ctrl-C (DETACH=1: in the background, no traffic; HISTORY=7d; UP_ARGS=...)
	$(PY) -m clickstream local up --history $(HISTORY) $(if $(filter 1 yes true,$(DETACH)),,--simulate --foreground) $(UP_ARGS)

down: $(STAMP)  ## stop the embedded stack
	$(PY) -m clickstream local down

status: $(STAMP)  ## show what the embedded stack is running
	$(PY) -m clickstream local status

airflow: $(STAMP)  ## Airflow in the foreground (UI on 127.0.0.1:8080, no login; Ctrl-C stops all of it)
	$(PY) -m clickstream airflow serve

grafana: $(STAMP)  ## regenerate grafana/ (dashboards, datasources, alerts) from grafana/*.py
	$(PY) -m grafana.build

bench: $(STAMP)  ## run the benchmarks (figures go to docs/BENCHMARKS.md by hand, with the command)
	$(PY) -m benchmarks.ingest

# --- AWS CDK (infra/cdk): the CLI comes from npm into the project, pinned by package-lock.json
# (aws-cdk@^2.1148: the npm `latest` 3.x cannot read aws-cdk-lib 2.275's cloud assembly).
CDK_DIR      := infra/cdk
CDK_STAMP    := $(CDK_DIR)/node_modules/.installed-stamp
WHEELHOUSE   := $(CDK_DIR)/.wheelhouse
WHEELS_STAMP := $(WHEELHOUSE)/.stamp
STAGE        ?= dev

$(CDK_STAMP): $(CDK_DIR)/package.json $(CDK_DIR)/package-lock.json
	npm ci --prefix $(CDK_DIR) --no-audit --no-fund
	@touch $@

cdk-install: $(CDK_STAMP)  ## install the CDK CLI (aws-cdk 2.1148.x) into infra/cdk/node_modules

$(WHEELS_STAMP): lambdas/requirements.txt lambdas/api/requirements.txt | $(STAMP)
	cd $(CDK_DIR) && ../../$(PY) -m clickstream_infra.bundling download ../.. .wheelhouse
	@touch $@

lambda-wheels: $(WHEELS_STAMP)  ## download the Lambda wheels (cp313 arm64, ingest + API sets) once; synth bundles them offline

synth: $(STAMP) $(CDK_STAMP) $(WHEELS_STAMP)  ## cdk synth STAGE=dev offline, cdk-nag clean, into infra/cdk/cdk.out
	cd $(CDK_DIR) && CDK_DISABLE_CLI_TELEMETRY=true ./node_modules/.bin/cdk synth --no-notices -q -c stage=$(STAGE) $(CDK_ARGS)

mwaa-lock: $(STAMP)  ## re-resolve infra/cdk/airflow/constraints.txt (MWAA's Airflow + our pins) after a pin changes
	cd $(CDK_DIR) && JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20 ../../$(PY) -m clickstream_infra.mwaa_lock ../..

# The rehearsal synthesises the MWAA deployment (-c mwaa=true) into its own folder, so that the
# DAG bundle is an asset too; the default `make synth` output is left alone.
REHEARSAL_OUT := .rehearsal/cdk.out
rehearse: $(STAMP) $(CDK_STAMP) $(WHEELS_STAMP)  ## synth with MWAA, then run cdk.out's Lambdas and DAGs against a fresh embedded stack
	cd $(CDK_DIR) && CDK_DISABLE_CLI_TELEMETRY=true ./node_modules/.bin/cdk synth --no-notices -q -c stage=$(STAGE) -c mwaa=true -o $(REHEARSAL_OUT) $(CDK_ARGS)
	cd $(CDK_DIR) && ../../$(PY) -m rehearsal --assembly $(REHEARSAL_OUT) $(REHEARSE_ARGS)

clean:  ## remove the venv and local state
	rm -rf $(VENV) .clickstream .pytest_cache .mypy_cache .ruff_cache .import_linter_cache
