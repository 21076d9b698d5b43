# Two commands for a fresh clone: `make book` (light: only the Jupyter Book stack) and `make test` (everything).
# The pinned environment installs on Python 3.11 or newer; choose the interpreter with `make PYTHON=python3.12 ...`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PIP := $(BIN)/python -m pip install --disable-pip-version-check
# Two stamps: the book pins only (make book), and the full pin set plus d2lmini (everything else).
BOOK_STAMP := $(VENV)/.installed-book
STAMP := $(VENV)/.installed
PY_OK := import sys; sys.exit(sys.version_info < (3, 11))
# ipywidgets 7.7.1 (what Colab ships), installed beside the pinned 8.x and put first on
# PYTHONPATH by the live-widget test, which checks that the widgets work with both.
IPYWIDGETS7 := .venv-ipywidgets7
LINT_VENV := .venv-lint
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-cell-timeout=300 --nbval-sanitize-with tests/nbval_sanitize.cfg
JB_FLAGS := -W -n --keep-going

# Offline machines keep The Time Machine in ../shared/data; elsewhere d2lmini downloads it.
ifeq ($(origin D2LMINI_DATA_DIR), undefined)
ifneq ($(wildcard ../shared/data/timemachine.txt),)
export D2LMINI_DATA_DIR := $(abspath ../shared/data)
endif
endif

.PHONY: help setup book html notebooks test check unit package nbval nbval-portable e2e browser lint bench studies fuzz clean

help:
	@echo "make book       set up .venv with the book pins only and build the HTML book into _build/html"
	@echo "make test       set up everything; run lint, unit tests, the package check, nbval, the strict HTML build, browser tests"
	@echo "make check      the quick loop while editing: lint and the unit tests without kernels, solutions, browsers or notebooks"
	@echo "make notebooks  re-execute every page in place in a fresh kernel"
	@echo "make package    build the wheel and sdist, twine-check them, install the wheel in a clean venv, train a step there"
	@echo "                and run every page alone from it, as Colab does, with no network"
	@echo "make nbval      compare every page's stored outputs with a fresh run (nbval-portable: on another CPU path)"
	@echo "make bench      run the benchmark (writes bench/results.json, appends to bench/history.csv;"
	@echo "                give make test's time with MAKE_TEST_SECONDS=...)"
	@echo "make fuzz       run the property-based tests with many more generated inputs than make test"
	@echo "make studies    rerun the slow experiments the pages show (writes d2lmini/study_results/*.json, about an hour)"
	@echo "Needs Python 3.11+; pick one with PYTHON=, e.g. make PYTHON=python3.12 book"

setup: $(STAMP) $(IPYWIDGETS7)/.installed

# The venv, made with $(PYTHON) once it is known to be new enough for the pins.
$(BIN)/python:
	@$(PYTHON) -c '$(PY_OK)' 2>/dev/null || { \
		echo "error: the pinned environment (requirements*.txt) needs Python 3.11 or newer;" \
			"PYTHON=$(PYTHON) is $$(command -v $(PYTHON) >/dev/null && $(PYTHON) --version 2>&1 || echo 'not installed')." >&2; \
		echo "Pick a newer interpreter, e.g.: make PYTHON=python3.12 $(or $(MAKECMDGOALS),book)" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)

# A .venv left by an older interpreter cannot take the pins: say so instead of failing deep inside pip.
define check_venv_python
	@$(BIN)/python -c '$(PY_OK)' || { \
		echo "error: $(VENV) was made with $$($(BIN)/python --version 2>&1), but the pins need Python 3.11+." >&2; \
		echo "Remove it and pick a newer interpreter: rm -rf $(VENV) && make PYTHON=python3.12 $(or $(MAKECMDGOALS),book)" >&2; \
		exit 1; }
endef

$(BOOK_STAMP): requirements-book.txt | $(BIN)/python
	$(check_venv_python)
	$(PIP) -r requirements-book.txt
	touch $@

$(STAMP): requirements.txt requirements-book.txt requirements-lint.txt pyproject.toml | $(BIN)/python
	$(check_venv_python)
	$(PIP) -r requirements.txt
	$(PIP) --no-deps --no-build-isolation -e .
	touch $@ $(BOOK_STAMP)

$(IPYWIDGETS7)/.installed: $(STAMP)
	rm -rf $(IPYWIDGETS7)
	$(BIN)/python -m pip install --disable-pip-version-check --no-deps --target $(IPYWIDGETS7) \
		ipywidgets==7.7.1 ipython_genutils==0.2.0
	touch $@

book: html
	@echo "The book is at file://$(CURDIR)/_build/html/index.html"

# Building the HTML renders the outputs stored in the notebooks: it needs the book pins only.
html: $(BOOK_STAMP)
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

# PYTEST_N: pytest-xdist workers for the stages that are many independent tests (2 = this machine's cores).
PYTEST_N ?= 2
PYTEST := $(BIN)/python -m pytest -q -p no:cacheprovider -n $(PYTEST_N)

unit: setup
	$(PYTEST) tests -m "not browser and not package"

# The edit-test loop: lint, then the unit tests that start no kernel and run no exercise solution.
check: $(STAMP)
	$(MAKE) lint
	$(PYTEST) tests -m "not browser and not package and not kernel and not solutions"

# Wheel and sdist, twine check, the wheel in a clean venv (its loose bounds held to the pins) running a training
# step; then every page executed alone from that wheel, with no network (tests/test_pages_alone.py). The two
# workers share one wheel and one venv (tests/conftest.py) and take the next page whenever they are free.
package: $(STAMP)
	$(PYTEST) --dist worksteal tests/test_package.py tests/test_pages_alone.py -m package

nbval: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(NBVAL_FLAGS) book

# The same comparison as another reader's machine would make it: torch's non-vectorised kernels and one
# thread sum in a different order, so a cell that prints digits of a training result fails here.
nbval-portable: $(STAMP)
	ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -p no:cacheprovider $(NBVAL_FLAGS) book

# One Chromium per xdist worker (a session fixture in tests/conftest.py); each test file stays on one worker.
e2e: $(STAMP) browser
	$(PYTEST) --dist loadfile tests -m browser

# Both cores busy at every stage: xdist for the many small tests, the HTML build beside the package check,
# and the two nbval passes side by side. The browser tests run alone: one of them times the page's event loop.
test: setup browser
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) -j2 --output-sync=target package html
	$(MAKE) -j2 --output-sync=target nbval nbval-portable
	$(MAKE) e2e

# The property-based tests with Hypothesis's long profile (make unit runs them with the short "ci" one).
fuzz: $(STAMP)
	HYPOTHESIS_PROFILE=fuzz $(BIN)/python -m pytest -q -p no:cacheprovider tests/test_properties.py

# Appends a row to bench/history.csv (commit it) and prints the change against the last run on this machine;
# `make bench MAKE_TEST_SECONDS=455` records make test's time, measured by the caller, too.
bench: $(STAMP)
	$(BIN)/python bench/run.py

# Each study trains on one thread and writes d2lmini/study_results/<name>.json (package data, read by load_study)
# with its command, versions and machine.
studies: $(STAMP)
	$(BIN)/python studies/run.py all

# The linters live in their own small venv with only their pins (requirements-lint.txt), so that `make lint`
# on a fresh clone installs two wheels, not torch. The workflows cannot run here; actionlint at least checks them.
$(LINT_VENV)/.installed: requirements-lint.txt
	rm -rf $(LINT_VENV)
	$(PYTHON) -m venv $(LINT_VENV)
	$(LINT_VENV)/bin/python -m pip install --disable-pip-version-check -r requirements-lint.txt
	touch $@

lint: $(LINT_VENV)/.installed
	$(LINT_VENV)/bin/ruff check d2lmini tests scripts bench studies _ext
	$(LINT_VENV)/bin/actionlint .github/workflows/*.yml

clean:
	rm -rf _build .pytest_cache
