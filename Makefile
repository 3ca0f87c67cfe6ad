# Two commands do everything on a fresh machine with Python 3.11:
#   make book   — set up .venv, execute every chapter (PROFILE=full by default), build _build/html
#   make test   — set up .venv, run every check (unit tests, papermill, nbval, book build, notebook checks)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= full
STAGE := tools/stage.sh

# Offline data: use ../shared/data when it exists and AECORE_DATA_DIR is not set.
ifeq ($(origin AECORE_DATA_DIR), undefined)
  ifneq ($(wildcard ../shared/data/mnist),)
    export AECORE_DATA_DIR := $(abspath ../shared/data)
  endif
endif
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: venv book execute html test test-unit test-papermill test-nbval test-build clean

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps -e .
	touch $@

book: venv execute html

execute: venv
	$(BIN)/python tools/run_notebooks.py --profile $(PROFILE) --inplace

html: venv
	$(BIN)/jupyter-book build . --builder html -W -n --keep-going

test: venv
	@$(STAGE) unit       $(MAKE) --no-print-directory test-unit
	@$(STAGE) papermill  $(MAKE) --no-print-directory test-papermill
	@$(STAGE) nbval      $(MAKE) --no-print-directory test-nbval
	@$(STAGE) book-build $(MAKE) --no-print-directory test-build

test-unit: venv
	$(BIN)/python -m pytest tests -q -p no:cacheprovider

test-papermill: venv
	$(BIN)/python tools/run_notebooks.py --profile fast --output-dir _build/papermill

test-nbval: venv
	AECORE_PROFILE=fast $(BIN)/python -m pytest --nbval-lax chapters -p no:cacheprovider \
	  --sanitize-with tests/nbval_sanitize.cfg -q

test-build: html

clean:
	rm -rf _build
