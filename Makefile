# The two commands of the README. Each sets up what it needs: a virtualenv at .venv with the
# project and its test tools, and the npm tools (asl-validator) in node_modules.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SETUP := $(VENV)/.setup-done
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test bench setup clean

demo: $(SETUP)
	$(BIN)/refunds demo

test: $(SETUP)
	$(BIN)/pytest

bench: $(SETUP)
	$(BIN)/python bench/detect_vs_duckdb.py --rows 1000000
	$(BIN)/python bench/ingest_local.py --rows 2000

setup: $(SETUP)

$(SETUP): pyproject.toml package.json package-lock.json
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	npm ci --no-audit --no-fund --silent
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium chromium-driver; }
	touch $@

clean:
	rm -rf $(VENV) node_modules .pytest_cache
