# Two commands for a newcomer: `make run` and `make test`.
# Each installs what is missing first; nothing here needs to be run by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= data

.PHONY: run test test-python test-js test-browser lint bench soak deps chromium clean

deps: $(VENV)/.installed client_web/node_modules/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

client_web/node_modules/.installed: client_web/package.json client_web/package-lock.json
	cd client_web && npm ci --no-audit --no-fund --silent
	touch $@

# Browser tests use Debian's Chromium; Playwright must never download a browser.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium chromium-driver; \
	  else echo "Install Debian's chromium package (apt-get install chromium) and run again." >&2; exit 1; fi; \
	fi

run: deps
	$(BIN)/quietline serve --host $(HOST) --port $(PORT) --data $(DATA)

test: deps chromium lint test-js test-python

test-python: deps
	$(BIN)/pytest

test-js: deps
	cd client_web && node --test test/

test-browser: deps chromium
	$(BIN)/pytest tests/browser

lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd client_web && node_modules/.bin/biome ci --colors=off .

# Benchmarks and the soak need matplotlib (plots) and atheris (fuzzing):
# the optional groups `bench` and `fuzz`, kept out of `make test`.
SOAK_MINUTES ?= 10
FUZZ_SECONDS ?= 300
# The live fuzzer (tests/reliability/live_fuzz.py): a million hostile inputs
# against a real server, stopped after FUZZ_MINUTES if not done by then.
FUZZ_INPUTS ?= 1000000
FUZZ_MINUTES ?= 30
FUZZ_SEED ?= 1

$(VENV)/.bench-installed: $(VENV)/.installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev,bench,fuzz]'
	touch $@

bench: deps $(VENV)/.bench-installed
	$(BIN)/python -m bench

soak: deps $(VENV)/.bench-installed
	$(BIN)/python -m bench --soak --soak-minutes $(SOAK_MINUTES)
	$(BIN)/python tests/reliability/live_fuzz.py --inputs $(FUZZ_INPUTS) --minutes $(FUZZ_MINUTES) --seed $(FUZZ_SEED) --progress
	$(BIN)/python tests/reliability/fuzz_atheris.py -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=bench/results/
	$(BIN)/python tests/reliability/fuzz_asgi.py -max_total_time=$(FUZZ_SECONDS) -artifact_prefix=bench/results/

clean:
	rm -rf $(VENV) client_web/node_modules
