# DermaTrace — `make demo` runs the whole story on synthetic skin; `make test` runs the tests.
# Both create .venv when it is missing and install the project into it (with Ray, for the
# tests of --engine ray).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.dermatrace-installed

# Libraries that phone home on import or write into the home folder: keep them local and quiet.
export NO_ALBUMENTATIONS_UPDATE := 1
export RAY_USAGE_STATS_ENABLED := 0
export KERAS_HOME := $(CURDIR)/.cache/keras
export MPLCONFIGDIR := $(CURDIR)/.cache/matplotlib
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONHASHSEED := 0

.PHONY: demo test test-fast bench install clean browser

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "DermaTrace needs Python >= 3.11 (set PYTHON=python3.11)")'
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[test,ray]'
	@touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python -m harness demo --out demo-out

# The browser tests need headless Chromium and its driver (Debian's chromium and chromium-driver);
# install them where missing.
browser:
	@{ { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } && \
	   command -v chromedriver >/dev/null 2>&1; } || \
	  { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) ; } || \
	  echo "chromium or chromium-driver is not installed and could not be installed: the browser tests will be skipped"

test: $(STAMP) browser
	$(BIN)/python -m pytest -q -rs --durations=25

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

bench: $(STAMP)
	@for f in bench/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

clean:
	rm -rf demo-out runs .pytest_cache .cache
