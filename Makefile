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
NBVAL_FLAGS := --nbval --nbval-current-env --nbval-cell-timeout=300 --nbval-sanitize-with tests/nbval_sanitize.cfg
JB_FLAGS := -W -n --keep-going

# Offline machines keep The Time Machine in ../shared/data; elsewhere d2lmini downloads it.
ifeq ($(origin D2LMINI_DATA_DIR), undefined)
ifneq ($(wildcard ../shared/data/timemachine.txt),)
export D2LMINI_DATA_DIR := $(abspath ../shared/data)
endif
endif

.PHONY: help setup book html notebooks test unit package nbval nbval-portable e2e browser lint bench studies clean

help:
	@echo "make book       set up .venv with the book pins only and build the HTML book into _build/html"
	@echo "make test       set up everything; run lint, unit tests, the package check, nbval, the strict HTML build, browser tests"
	@echo "make notebooks  re-execute every page in place in a fresh kernel"
	@echo "make package    build the wheel and sdist, twine-check them, install the wheel in a clean venv and train a step"
	@echo "make nbval      compare every page's stored outputs with a fresh run (nbval-portable: on another CPU path)"
	@echo "make bench      run the benchmark (writes bench/results.json)"
	@echo "make studies    rerun the slow experiments the pages show (writes studies/*.json, about an hour)"
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

$(STAMP): requirements.txt requirements-book.txt pyproject.toml | $(BIN)/python
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

unit: setup
	$(BIN)/python -m pytest -q -p no:cacheprovider tests -m "not browser and not package"

# Wheel and sdist, twine check, the wheel in a clean venv (loose bounds only) running a training step.
package: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/test_package.py -m package

nbval: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(NBVAL_FLAGS) book

# The same comparison as another reader's machine would make it: torch's non-vectorised kernels and one
# thread sum in a different order, so a cell that prints digits of a training result fails here.
nbval-portable: $(STAMP)
	ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q -p no:cacheprovider $(NBVAL_FLAGS) book

e2e: $(STAMP) browser
	$(BIN)/python -m pytest -q -p no:cacheprovider tests -m browser

test: setup browser
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) package
	$(MAKE) -j2 --output-sync=target nbval nbval-portable
	$(MAKE) html
	$(MAKE) e2e

bench: $(STAMP)
	$(BIN)/python bench/run.py

# Each study trains on one thread and writes studies/<name>.json with its command, versions and machine.
studies: $(STAMP)
	$(BIN)/python studies/run.py all

# The workflows cannot run here; actionlint at least checks them.
lint: $(STAMP)
	$(BIN)/ruff check d2lmini tests scripts bench studies _ext
	$(BIN)/actionlint .github/workflows/*.yml

clean:
	rm -rf _build .pytest_cache
