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

.PHONY: run test lint check install install-test system-deps proto bench clean

run: install
	$(VENV)/bin/intent up

test: install-test system-deps lint
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
# daemon, psql/initdb run the PostgreSQL suite, chromium drives the UI tests.
system-deps:
	@missing=""; \
	command -v docker-compose >/dev/null || missing="$$missing docker-compose"; \
	command -v psql >/dev/null || missing="$$missing postgresql-client"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  echo "installing from Debian:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing >/dev/null; \
	fi

proto: install-test
	./providers/proto/generate.sh

bench: install-test
	$(PY) bench/providers.py
	$(PY) bench/policies.py
	$(PY) bench/changes.py
	$(PY) bench/auth.py

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache .hypothesis
