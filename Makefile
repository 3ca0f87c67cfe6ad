# Two commands do everything on a fresh machine with Python 3.11:
#   make book   — set up .venv, execute every chapter (PROFILE=full by default), build _build/html
#   make test   — set up .venv, run every check (unit tests, papermill, nbval, book build, notebook checks)
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
BIN := $(VENV)/bin
PROFILE ?= full
STAGE := tools/stage.sh
# Debian's Chromium for the browser test (apt packages chromium + chromium-driver).
CHROMIUM ?= /usr/bin/chromium

# Offline data: use ../shared/data when it exists and AECORE_DATA_DIR is not set.
ifeq ($(origin AECORE_DATA_DIR), undefined)
  ifneq ($(wildcard ../shared/data/mnist),)
    export AECORE_DATA_DIR := $(abspath ../shared/data)
  endif
endif
export TF_CPP_MIN_LOG_LEVEL ?= 2
export PYTHONHASHSEED := 0
export PYDEVD_DISABLE_FILE_VALIDATION := 1

.PHONY: venv book execute html test published-runs github-release verdicts-unchanged test-unit test-papermill test-nbval test-build test-browser test-colab \
        browser-deps chromium clean bench bench-deps reproduce release-check dist

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
	$(BIN)/python tools/build_pages.py
	$(BIN)/jupyter-book build . --config _generated/_config.yml --builder html -W -n --keep-going

# `make test` builds the book as the publishing workflow does, with a repository, so that the
# "Open in Colab" and source links are built and checked (tests/browser/test_launch_links.py);
# the workflow passes the real one (github.repository). `make html` alone builds none.
test: export BOOK_REPOSITORY ?= placeholder-owner/aecore-book
test: venv
	@$(STAGE) unit       $(MAKE) --no-print-directory test-unit
	@$(STAGE) papermill  $(MAKE) --no-print-directory test-papermill
	@$(STAGE) nbval      $(MAKE) --no-print-directory test-nbval
	@$(STAGE) book-build $(MAKE) --no-print-directory test-build
	@$(STAGE) browser    $(MAKE) --no-print-directory test-browser
	@$(STAGE) colab      $(MAKE) --no-print-directory test-colab

test-unit: venv
	$(BIN)/python -m pytest tests -q -p no:cacheprovider --ignore=tests/browser

# Two chapters at a time: see tools/run_notebooks.py (--jobs).
test-papermill: venv
	$(BIN)/python tools/run_notebooks.py --profile fast --output-dir _build/papermill --jobs 2

# Two notebooks at a time (pytest-xdist; loadscope keeps each notebook's cells on one worker).
test-nbval: venv
	AECORE_PROFILE=fast $(BIN)/python -m pytest --nbval-lax chapters -p no:cacheprovider \
	  --sanitize-with tests/nbval_sanitize.cfg -q -n 2 --dist loadscope

test-build: html

# Every chapter on Colab's stack (Python 3.13, TensorFlow 2.20, in .venv-colab), installed from a
# wheel of this checkout and run from the notebook file alone, fast profile (tools/colab_check.py).
test-colab: venv
	$(BIN)/python tools/colab_check.py

# Every page of _build/html in headless Chromium (tests/browser). Installs what it needs:
# Debian's chromium (apt, as root or with sudo; skipped when $(CHROMIUM) exists) and
# requirements-browser.txt; builds the HTML first if there is none.
test-browser: venv browser-deps chromium
	@test -f _build/html/index.html || $(MAKE) --no-print-directory html
	AECORE_REQUIRE_BROWSER=1 AECORE_CHROMIUM=$(CHROMIUM) \
	  $(BIN)/python -m pytest tests/browser -q -p no:cacheprovider

browser-deps: $(VENV)/.browser-installed

$(VENV)/.browser-installed: requirements-browser.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-browser.txt
	touch $@

chromium:
	@if [ -x "$(CHROMIUM)" ]; then \
	  echo "chromium: $(CHROMIUM) is installed"; \
	else \
	  command -v apt-get >/dev/null || { echo "no $(CHROMIUM) and no apt-get: install Chromium and set CHROMIUM=/path/to/it" >&2; exit 1; }; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO="sudo -n"; fi; \
	  echo "chromium: installing Debian's chromium + chromium-driver with apt-get"; \
	  $$SUDO apt-get update -qq && \
	  $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null && \
	  { test -x "$(CHROMIUM)" || { echo "apt-get ran, but there is no $(CHROMIUM)" >&2; exit 1; }; }; \
	fi

# Training-speed benchmark (benchmarks/): aecore's default path vs Keras fit vs PyTorch, side by
# side; writes benchmarks/results/ (latest.csv, run.json, SUMMARY.md; ~40 min on 2 busy cores). Installs
# requirements-bench.txt (PyTorch, CPU build) into .venv. BENCH_ARGS="--quick" for a smoke run.
bench: venv bench-deps
	$(BIN)/python -m benchmarks.bench $(BENCH_ARGS)

bench-deps: $(VENV)/.bench-installed

$(VENV)/.bench-installed: requirements-bench.txt $(VENV)/.installed
	$(BIN)/python -m pip install --quiet -r requirements-bench.txt
	touch $@

# Retrain one published run of each training chapter cold and compare bit for bit with
# benchmarks/results/reference_runs.json (recorded from the full build's cache; ~3 min).
reproduce: venv
	$(BIN)/python -m benchmarks.reproduce

# The release (.github/workflows/release.yml): the tag must name this version; then wheel and sdist.
release-check: venv
	$(BIN)/python tools/release_check.py

# The published runs (release.yml): every chapter's runs trained in the full profile into a cache
# of their own, exported to dist-runs/ for the GitHub release, and the archive's address stamped
# into pyproject.toml, so that the wheel's metadata carries it (aecore.archive.use_published_runs).
RUNS_CACHE ?= _build/published-runs
published-runs: venv
	rm -rf dist-runs $(RUNS_CACHE)
	AECORE_CACHE_DIR=$(RUNS_CACHE) $(BIN)/python tools/run_notebooks.py --profile full --output-dir _build/published-notebooks
	$(BIN)/python tools/stamp_runs_url.py --export $(RUNS_CACHE)

# After `make book PROFILE=full` (weekly-full.yml): exit 1 naming every verdict that differs from
# the committed chapters'.
verdicts-unchanged:
	python3 tools/compare_verdicts.py

# Attach the published runs to the GitHub release of the tag (needs the gh CLI and GH_TOKEN).
github-release:
	gh release create "$$GITHUB_REF_NAME" dist-runs/*.tar.gz --repo "$$GITHUB_REPOSITORY" --verify-tag \
	  --title "$$GITHUB_REF_NAME" --notes "aecore $$GITHUB_REF_NAME and the runs of the published book (dist-runs)."

dist: venv
	rm -rf dist
	$(BIN)/python -m pip wheel --no-deps --quiet -w dist .
	$(BIN)/python -m build --sdist --outdir dist .

clean:
	rm -rf _build
