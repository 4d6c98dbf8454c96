# Two commands for a newcomer: `make run` and `make test`.
# Each installs what is missing first; nothing here needs to be run by hand.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
DATA ?= data

.PHONY: install run test test-python test-js test-browser lint bench soak deps chromium clean

# Two installs share .venv and client_web/node_modules:
# - the runtime (`make install`, `make run`): Quietline and what it needs to
#   serve, and the web client's libraries, no test or development tools. What
#   a practice runs in production (docs/SELF_HOSTING.md).
# - the development tools on top (`make deps`, `make test`, `make lint`).
# Quietline is installed in place (pip -e), so the server finds client_web/
# beside its code, whatever the install.
deps: $(VENV)/.installed client_web/node_modules/.installed $(VENV)/wheelhouse/.downloaded

$(VENV)/.runtime-installed: pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed: $(VENV)/.runtime-installed pyproject.toml
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@

# The build requirements of pyproject.toml (setuptools), fetched once: the
# guide's test (tests/deploy/test_deploy_guide.py) runs `make install` on a
# fresh clone with no network, from this wheelhouse and the packages above.
$(VENV)/wheelhouse/.downloaded: $(VENV)/.runtime-installed pyproject.toml
	$(BIN)/pip download --quiet --no-deps --dest $(VENV)/wheelhouse \
	  $$($(BIN)/python -c "import tomllib; print(' '.join(tomllib.load(open('pyproject.toml', 'rb'))['build-system']['requires']))")
	touch $@

# A development install of the web client's libraries includes the runtime one.
client_web/node_modules/.runtime-installed: client_web/package.json client_web/package-lock.json
	test -f client_web/node_modules/.installed || \
	  (cd client_web && npm ci --omit=dev --no-audit --no-fund --silent)
	touch $@

client_web/node_modules/.installed: client_web/package.json client_web/package-lock.json
	cd client_web && npm ci --no-audit --no-fund --silent
	touch $@

# The production install and every upgrade (docs/SELF_HOSTING.md, sections 1
# and 7): always run, since `git pull` may change the code without changing
# the files the stamps above depend on.
install:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -e .
	cd client_web && npm ci --omit=dev --no-audit --no-fund --silent
	touch $(VENV)/.runtime-installed client_web/node_modules/.runtime-installed

# Browser tests use Debian's Chromium; Playwright must never download a browser.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -qq && apt-get install -y -qq chromium chromium-driver; \
	  elif command -v sudo >/dev/null; then sudo apt-get update -qq && sudo apt-get install -y -qq chromium chromium-driver; \
	  else echo "Install Debian's chromium package (apt-get install chromium) and run again." >&2; exit 1; fi; \
	fi

run: $(VENV)/.runtime-installed client_web/node_modules/.runtime-installed
	$(BIN)/quietline serve --host $(HOST) --port $(PORT) --data $(DATA)

test: deps chromium lint test-js test-python

test-python: deps
	$(BIN)/pytest

test-js: deps
	cd client_web && node --test test/

test-browser: deps chromium
	$(BIN)/pytest tests/browser

# `systemd-analyze verify` checks the unit where systemd's tools are
# installed (Debian's systemd package; .ci/run installs it), so that a
# machine without systemd can still lint. It also checks that ExecStart's
# program exists: the unit is verified as it would be installed from this
# checkout, with /opt/quietline replaced by it; the template unit of several
# relay processes (deploy/quietline@.service) as its instance on port 8001.
lint: deps
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	cd client_web && node_modules/.bin/biome ci --colors=off .
	@if command -v systemd-analyze >/dev/null; then \
	  unit_dir=$$(mktemp -d) && \
	  sed 's#/opt/quietline#$(CURDIR)#g' deploy/quietline.service > $$unit_dir/quietline.service && \
	  sed 's#/opt/quietline#$(CURDIR)#g' deploy/quietline@.service > $$unit_dir/quietline@.service && \
	  cp $$unit_dir/quietline@.service $$unit_dir/quietline@8001.service && \
	  systemd-analyze verify $$unit_dir/quietline.service $$unit_dir/quietline@8001.service; \
	  status=$$?; \
	  rm -rf $$unit_dir; exit $$status; \
	else \
	  echo "systemd-analyze is not installed: deploy/quietline.service not verified (apt-get install systemd)."; \
	fi

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
