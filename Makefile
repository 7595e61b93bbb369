# The two commands that matter: `make run` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=
# Providers come from the OpenTofu registry, or from Terraform filesystem mirrors found on
# this machine (needed offline). Set INTENT_PROVIDER_MIRRORS yourself to skip the search.
INTENT_PROVIDER_MIRRORS ?= $(shell ./deploy/find-provider-mirrors.sh)
export INTENT_PROVIDER_MIRRORS

# What `intent up` reads, forwarded by `make run` from the environment or the command line
# (`make run INTENT_PORT=9090 INTENT_DATA_DIR=/srv/intent`); unset ones keep their defaults.
UP_VARIABLES := INTENT_DATA_DIR INTENT_HOST INTENT_PORT INTENT_TEMPORAL_PORT \
	INTENT_TEMPORAL_UI_PORT INTENT_SANDBOX INTENT_SANDBOX_PORT INTENT_TEMPORAL_ADDRESS \
	INTENT_DATABASE_URL INTENT_METRICS_PORT INTENT_OTLP_ENDPOINT INTENT_LOG_FORMAT INTENT_LOG_LEVEL
$(foreach v,$(UP_VARIABLES),$(if $(value $(v)),$(eval export $(v))))

.PHONY: run test lint check install install-test system-deps node-deps proto bench clean

run: install
	$(VENV)/bin/intent up

test: install-test system-deps node-deps lint
	$(PY) -m pytest $(PYTEST_ARGS)

lint: install-test
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

# Stamps re-run pip only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PIP) install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PIP) install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

# What the tests need from Debian: docker-compose validates docker-compose.yml without a
# daemon, psql/initdb run the PostgreSQL suite, chromium drives the UI tests, node/npm
# run the MCP conformance suite and axe-core.
system-deps:
	@missing=""; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	command -v psql >/dev/null || missing="$$missing postgresql-client"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing from Debian:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

# Node tools the tests run (MCP conformance suite, axe-core), pinned by tests/node's lock file.
NODE_DIR := tests/node
$(NODE_DIR)/node_modules/.installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

node-deps: system-deps $(NODE_DIR)/node_modules/.installed

proto: install-test
	./providers/proto/generate.sh

bench: install-test
	$(PY) bench/providers.py
	$(PY) bench/policies.py
	$(PY) bench/changes.py --resources 1,10,50 --delete
	$(PY) bench/drift.py
	$(PY) bench/mcp_bytes.py
	$(PY) bench/auth.py
	$(PY) bench/integrations.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis $(NODE_DIR)/node_modules
