# One obvious way to run everything. The venv is made on first use and reused after;
# it is reinstalled only when pyproject.toml changes.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The certified OpenID provider the device sign-in is tested against (oidc-provider, on Node.js), from its lock file.
OIDC_PROVIDER := tests/oidc/node_modules/.package-lock.json
# The web app's browser tests: axe-core (npm, from its lock file) and Debian's Chromium, never a downloaded browser.
AXE_CORE := tests/browser/node_modules/.package-lock.json
CHROMIUM := /usr/bin/chromium

.PHONY: install run test bench lint format clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

$(OIDC_PROVIDER): tests/oidc/package-lock.json
	@command -v npm >/dev/null || { echo "make test needs Node.js and npm (node 20 or later) for the OpenID provider tests" >&2; exit 1; }
	cd tests/oidc && npm ci --no-audit --no-fund

$(AXE_CORE): tests/browser/package-lock.json
	@command -v npm >/dev/null || { echo "make test needs Node.js and npm for the browser tests' axe-core" >&2; exit 1; }
	cd tests/browser && npm ci --no-audit --no-fund

$(CHROMIUM):
	@command -v apt-get >/dev/null || { echo "make test needs Chromium at $(CHROMIUM) (Debian's chromium package)" >&2; exit 1; }
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

## The main job on the embedded default: Temporal dev server (persistent under .data/, Web UI).
run: $(STAMP)
	$(BIN)/python -m stack

# Most of the suite waits on servers and timers, not the CPU: three processes halve it on two cores.
# A file stays on one process: its module-scoped servers and the order of its tests are kept.
TEST_PROCESSES ?= 3

test: $(STAMP) $(OIDC_PROVIDER) $(AXE_CORE) $(CHROMIUM)
	$(BIN)/python -m pytest -n $(TEST_PROCESSES) --dist loadfile --durations=15 $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy domain

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis
