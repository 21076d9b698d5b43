# Two commands for a fresh clone: `make book` and `make test`. Both set up .venv first.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# ipywidgets 7.7.1 (what Colab ships), installed beside the pinned 8.x and put first on
# PYTHONPATH by the live-widget test, which checks that the widgets work with both.
IPYWIDGETS7 := .venv-ipywidgets7
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-cell-timeout=300 --nbval-sanitize-with tests/nbval_sanitize.cfg
JB_FLAGS := -W -n --keep-going

# Offline machines keep The Time Machine in ../shared/data; elsewhere d2lmini downloads it.
ifeq ($(origin D2LMINI_DATA_DIR), undefined)
ifneq ($(wildcard ../shared/data/timemachine.txt),)
export D2LMINI_DATA_DIR := $(abspath ../shared/data)
endif
endif

.PHONY: help setup book html notebooks test unit nbval e2e browser lint bench clean

help:
	@echo "make book       set up .venv and build the HTML book into _build/html"
	@echo "make test       set up and run unit tests, nbval, the strict HTML build and browser tests"
	@echo "make notebooks  re-execute every page in place in a fresh kernel"
	@echo "make bench      run the benchmark (writes bench/results.json)"

setup: $(STAMP) $(IPYWIDGETS7)/.installed

$(STAMP): requirements.txt pyproject.toml
	@$(PYTHON) -c 'import sys; assert sys.version_info >= (3, 10), "Python 3.10+ is needed, found " + sys.version' 
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --disable-pip-version-check -r requirements.txt
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps -e .
	touch $@

$(IPYWIDGETS7)/.installed: $(STAMP)
	rm -rf $(IPYWIDGETS7)
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps --target $(IPYWIDGETS7) \
		ipywidgets==7.7.1 ipython_genutils==0.2.0
	touch $@

book: $(STAMP) html
	@echo "The book is at file://$(CURDIR)/_build/html/index.html"

html: $(STAMP)
	$(BIN)/jupyter-book build . $(JB_FLAGS)

notebooks: $(STAMP)
	$(BIN)/python scripts/run_notebooks.py

# Chromium for the browser tests: Debian's package, installed when missing and we are root.
browser:
	@if ! command -v chromium >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "Chromium is missing and cannot be installed here (not root); the browser tests will be skipped."; \
		fi; \
	fi

unit: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider tests -m "not browser"

nbval: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(NBVAL_FLAGS) book

e2e: $(STAMP) browser
	$(BIN)/python -m pytest -q -p no:cacheprovider tests -m browser

test: setup browser
	$(BIN)/ruff check d2lmini tests scripts bench
	$(MAKE) unit
	$(MAKE) nbval
	$(MAKE) html
	$(MAKE) e2e

bench: $(STAMP)
	$(BIN)/python bench/run.py

lint: $(STAMP)
	$(BIN)/ruff check d2lmini tests scripts bench

clean:
	rm -rf _build .pytest_cache
