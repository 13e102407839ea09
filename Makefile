# squad-console: `make run` and `make test` do all the set-up on a fresh machine.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
NPM ?= npm

.PHONY: run demo test test-python test-node bench clean help tools openclaw-test

help:
	@echo "make run    set up .venv if needed, then start the console on the embedded store"
	@echo "make demo   the console on a throwaway store holding a generated week of the seed's squad"
	@echo "make test   install Python and Node test dependencies, then run every suite"
	@echo "make bench  run the benchmarks and print their figures"

# The virtualenv is (re)built when pyproject.toml changes.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed-run: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	@touch $@ $(VENV)/.installed-run

node_modules/.installed: package.json package-lock.json
	@command -v node >/dev/null || { echo "installing Node.js (needed for the Convex suites)"; \
	  (apt-get update -qq && apt-get install -y -qq nodejs npm) >/dev/null || \
	  { echo "Node.js >= 20 and npm are needed: install them, then run make test again"; exit 1; }; }
	$(NPM) ci --no-audit --no-fund --loglevel=error
	@touch $@

# `make run ARGS=check` prints the check; its status (1 degraded, 2 down, 3 unknown) is said in
# words rather than as make's own error (scripts call squad-console directly for the exit code).
run: $(VENV)/.installed-run
	@$(BIN)/squad-console $(ARGS); code=$$?; \
	  if [ $$code -ne 0 ]; then echo "(squad-console exited with status $$code)"; fi

demo: $(VENV)/.installed-run
	$(BIN)/squad-console --demo $(ARGS)

# The real OpenClaw (Node 24 and openclaw as npm packages, the WhatsApp plugin through `openclaw plugins
# install`), pinned in tests/real_openclaw.py, installed once into the ignored .openclaw-test/ for the
# contract tests against a real gateway; the stamp file caches it.
OPENCLAW_TEST := .openclaw-test
$(OPENCLAW_TEST)/.installed: tests/real_openclaw.py | $(VENV)/.installed-test node_modules/.installed
	$(BIN)/python -m tests.real_openclaw install $(OPENCLAW_TEST)

openclaw-test: $(OPENCLAW_TEST)/.installed

# The real-terminal tests drive the console in tmux; the browser tests drive `serve` in Debian's chromium.
tools:
	@command -v tmux >/dev/null || { echo "installing tmux (for the real-terminal tests)"; \
	  (apt-get update -qq && apt-get install -y -qq tmux) >/dev/null || \
	  { echo "tmux is needed for the real-terminal tests: install it, then run make test again"; exit 1; }; }
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || { echo "installing chromium (for the browser tests)"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null || \
	  { echo "chromium is needed for the browser tests of serve: install it, then run make test again"; exit 1; }; }

test: $(VENV)/.installed-test node_modules/.installed tools openclaw-test
	$(NPM) test --silent
	$(BIN)/python -m pytest -q

test-python: $(VENV)/.installed-test node_modules/.installed openclaw-test
	$(BIN)/python -m pytest -q $(ARGS)

test-node: node_modules/.installed
	$(NPM) test --silent

bench: $(VENV)/.installed-test node_modules/.installed openclaw-test
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) node_modules .pytest_cache $(OPENCLAW_TEST)
