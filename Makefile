# Two commands: `make demo` and `make test` (`make test-full` for every test at full
# hypothesis counts). Each sets up what it needs on a fresh machine:
# the virtualenv and packages, wrk (the surge tool's load generator), chromium (the page
# tests' browser, driven by Playwright) and a Chinese font, all Debian packages, and a
# running PostgreSQL (the machine provides the server; it is started if it is down).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

# pytest on every core (xdist); tests marked xdist_group share a worker (loadgroup): the
# browser module's, which share one server and one chromium. PYTEST_ARGS adds options,
# e.g. PYTEST_ARGS=--durations=15.
PYTEST := $(BIN)/python -m pytest -q -n auto --dist loadgroup $(PYTEST_ARGS)

.PHONY: demo test test-full tests-quick tests-full lint typecheck bench system services clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

system:
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "installing wrk (load generator for the surge tool)"; \
	  apt-get install -y -q wrk >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q wrk >/dev/null; }; }
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing chromium (Debian's; the page tests drive it with Playwright)"; \
	  apt-get install -y -q chromium >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null; }; }
	@fc-list :lang=zh 2>/dev/null | grep -q . || { \
	  echo "installing a Chinese font (fonts-wqy-microhei: the Chinese page's test reads its glyphs)"; \
	  apt-get install -y -q fonts-wqy-microhei >/dev/null 2>&1 || \
	  { apt-get update -q >/dev/null && apt-get install -y -q fonts-wqy-microhei >/dev/null; }; }

services:
	@pg_isready -q -h 127.0.0.1 -p 5432 || { \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql) main start; \
	  for i in $$(seq 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done; }

demo: $(STAMP)
	$(BIN)/promiseline demo -o promiseline-demo

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports --no-cache

typecheck: $(STAMP)
	$(BIN)/mypy

# The quick loop: every guard (reference-planner properties, browser, crash and attack
# tests) with a fifth of the hypothesis examples; tests marked slow are left to test-full.
# The type check runs beside the tests: on a fresh clone mypy takes a core for most of a
# minute, and the tests leave cores idle while servers start.
test: system services lint
	@$(MAKE) --no-print-directory -j2 typecheck tests-quick

# Everything: the slow tests too, and every property at its full count.
test-full: system services lint
	@$(MAKE) --no-print-directory -j2 typecheck tests-full

tests-quick: $(STAMP)
	HYPOTHESIS_PROFILE=quick $(PYTEST) -m "not slow"

tests-full: $(STAMP)
	HYPOTHESIS_PROFILE=full $(PYTEST)

bench: $(STAMP) system services
	$(BIN)/python benchmarks/plan_bench.py
	$(BIN)/python benchmarks/intake_bench.py

clean:
	rm -rf $(VENV) promiseline-demo .pytest_cache .mypy_cache .ruff_cache .hypothesis
