# Two entry points for a fresh machine (Python 3.11+):
#   make book   set up .venv and build the book into _build/html (warnings are errors)
#   make test   set up .venv (+ Debian chromium, + gcc without a C compiler) and run every test
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# Data for tests and the book: ../shared/data beside this checkout when it exists (the
# library itself never looks there; see infoflow_core/data/). Override by exporting it.
INFOFLOW_DATA_DIR ?= $(wildcard $(abspath ../shared/data))
export INFOFLOW_DATA_DIR

# Jupyter Book caches executed notebooks by the code of their cells only, not by
# INFOFLOW_SCALE nor by the library they call: a build at another scale, or after the
# library, the stored results or the book's extension changed, starts from an empty
# cache (and doctrees).
BOOK_INPUTS_HASH = $(shell find infoflow_core book/_ext book/results -type f \( -name '*.py' -o -name '*.json' -o -name '*.npz' \) | LC_ALL=C sort | xargs cat | sha256sum | cut -c1-16)
define scale_guard
mkdir -p _build; if [ "$$(cat _build/.scale 2>/dev/null)" != "$(1) $(BOOK_INPUTS_HASH)" ]; then \
  rm -rf _build/.jupyter_cache _build/jupyter_execute _build/.doctrees _build/html; echo "$(1) $(BOOK_INPUTS_HASH)" > _build/.scale; fi
endef

.PHONY: setup lab book book-quick test test-unit test-notebooks test-browser chromium compiler notebook-outputs clean

setup: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps --no-build-isolation -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $(STAMP)

# The main job: the book at the "book" scale (stored results where they exist).
book: setup
	@$(call scale_guard,$${INFOFLOW_SCALE:-book})
	INFOFLOW_BATCH=1 INFOFLOW_SCALE=$${INFOFLOW_SCALE:-book} $(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going

# The book at the quick scale (what CI builds and the browser test opens).
book-quick: setup
	@$(call scale_guard,quick)
	INFOFLOW_BATCH=1 INFOFLOW_SCALE=quick $(VENV)/bin/jupyter-book build . --warningiserror --nitpick --keep-going

# The book in JupyterLab (MyST markup rendered by jupyterlab-myst, live widgets recompute).
# --allow-root: JupyterLab refuses to start as root without it.
# The nbstripout git filter (per-clone config) keeps run outputs out of commits; --keep-id
# keeps the notebooks' cell ids, which `nbstripout --install` alone would renumber.
lab: setup
	@if git rev-parse --git-dir >/dev/null 2>&1; then \
	  $(VENV)/bin/nbstripout --install --attributes .gitattributes && \
	  git config filter.nbstripout.clean '"$(abspath $(VENV))/bin/python" -m nbstripout --keep-id'; fi
	INFOFLOW_SCALE=$${INFOFLOW_SCALE:-book} $(VENV)/bin/jupyter lab --allow-root book/

# A C compiler for infoflow_core's C kernels (the library falls back to torch without one;
# the tests of the C kernels need it).
compiler:
	@command -v cc >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc libc6-dev >/dev/null; }

chromium:
	@command -v chromium >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test-unit: setup
	$(PY) -m pytest -q -m "not browser" --doctest-modules tests infoflow_core

test-notebooks: setup
	INFOFLOW_BATCH=1 INFOFLOW_SCALE=quick $(PY) -m pytest -q --nbval-lax --nbval-sanitize-with tests/nbval_sanitize.cfg book -p no:cacheprovider

test-browser: book-quick chromium
	$(PY) -m pytest -q tests -m browser

test: setup compiler chromium
	$(MAKE) test-unit
	$(MAKE) test-notebooks
	$(MAKE) test-browser

# Re-record the expected output of every `# NBVAL_CHECK_OUTPUT` cell (quick scale),
# after changing such a cell or the numbers it prints on purpose.
notebook-outputs: setup
	INFOFLOW_BATCH=1 INFOFLOW_SCALE=quick $(PY) tests/nbval_record.py book/*.ipynb

clean:
	rm -rf _build .jupyter_cache
