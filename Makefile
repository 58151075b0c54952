# The two commands of the README. Each sets up what it needs: a virtualenv at .venv with the
# project and its test tools, and the npm tools (asl-validator) in node_modules.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SETUP := $(VENV)/.setup-done
SAM_VENV := .tools/sam
# pyenv's 3.12 when there is one (its python3.12 shim only answers when 3.12 is the active version).
PYTHON312 ?= $(shell ls -d $$(pyenv root 2>/dev/null)/versions/3.12.*/bin/python3.12 2>/dev/null | tail -1 || true)
PYTHON312 := $(or $(PYTHON312),$(shell command -v python3.12))
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test check bench setup clean

demo: $(SETUP)
	$(BIN)/refunds demo

test: $(SETUP)
	$(BIN)/pytest

# The fast tier: the rules, the use-cases over the in-memory ports, the offline checks; no socket, no local cloud.
check: $(SETUP)
	$(BIN)/pytest -m "not integration" --disable-socket --allow-unix-socket -n auto

bench: $(SETUP)
	$(BIN)/python bench/detect_vs_duckdb.py --rows 1000000
	$(BIN)/python bench/trends_offline.py --rows 1000000 --months 24
	$(BIN)/python bench/trends_deployed.py --cases 100000 --months 24
	$(BIN)/python bench/ingest_local.py --rows 100000
	$(BIN)/python bench/remit_parse.py --claims 1000 10000
	$(BIN)/python bench/record_macs.py --rows 100000
	$(BIN)/python bench/worklist_local.py --items 10000 --pages 5
	$(BIN)/python bench/year.py --months 12 --days 4 --cases-per-day 250
	$(BIN)/python bench/bill.py --rows 100000 --cases 200
	$(BIN)/python bench/escheat.py --letters 500 --properties 10000 --tracked 300

setup: $(SETUP)

# setup.py builds the compiled detection pass (C) with this machine's compiler: its source is a dependency.
FASTDETECT := $(wildcard layers/core/python/creditrefunds/domain/_fastdetect_src/*.[ch])

$(SETUP): pyproject.toml setup.py constraints.txt constraints-sam.txt package.json package-lock.json $(FASTDETECT)
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@# The SAM CLI, in a virtualenv of the functions' runtime (Python 3.12): `sam build` needs that
	@# Python on PATH, and the local cloud runs each function with it.
	test -x $(SAM_VENV)/bin/python3.12 || { test -n "$(PYTHON312)" || { \
	  echo "Python 3.12 (the functions' runtime) is needed for sam build: install it (pyenv install 3.12)"; exit 1; }; \
	  $(PYTHON312) -m venv $(SAM_VENV); }
	$(SAM_VENV)/bin/python -m pip install --quiet -c constraints-sam.txt aws-sam-cli
	npm ci --no-audit --no-fund --silent
	command -v chromium >/dev/null && command -v chromedriver >/dev/null || { \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq --no-install-recommends chromium chromium-driver; }
	touch $@

clean:
	rm -rf $(VENV) $(SAM_VENV) node_modules .pytest_cache .aws-sam
