# Two commands do everything (see README): `make book` and `make test`.
# The other targets are their building blocks and maintenance tools.

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
# The Python version requirements.lock is made for (make lock) and .venv is expected to have.
LOCK_PYTHON := 3.11
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.deeplinear-installed
NOTEBOOKS = $(shell $(PY) scripts/book_tools.py notebooks)

# Notebooks execute single-threaded (bitwise-stable outputs for nbval) and without progress bars.
NB_ENV := OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
          DEEPLINEAR_PROGRESS=0 PYDEVD_DISABLE_FILE_VALIDATION=1

.PHONY: help env lint test unit nbval nbval-portable book pdf execute lock benchmark clean reproduce paper-claims sweep survey

help:
	@echo "make book       set up, build the website from the committed chapters into _build/html"
	@echo "make pdf        set up, build the whole book as one PDF, _build/latex/book.pdf (needs LaTeX: see README)"
	@echo "make test       set up, run the unit tests and nbval (strict) on every chapter, natively and under a"
	@echo "                second numerical configuration (another BLAS kernel, no AVX2/AVX-512, two threads)"
	@echo "make lint       ruff (lint and format) on the library, tests, scripts and chapters; the chapters' code budget"
	@echo "make execute    re-execute every chapter in place (after changing what an output shows)"
	@echo "make benchmark  print the speed table (benchmarks/speed.py) and the peers table (benchmarks/peers.py)"
	@echo "make lock       re-resolve the dependencies into requirements.lock (hashed, every platform), then write"
	@echo "                environment.yml and binder/environment.yml from it (UPGRADE=1: newest versions)"
	@echo "make reproduce  rerun every chapter with PRESET=book or PRESET=paper into _build/reproduce/"
	@echo "make paper-claims  refresh book/presets/claims-paper.json (the report's paper-preset ledger)"
	@echo "make sweep      rerun the chapters at many seeds on Dask (SEEDS=8 or SEEDS=\"29 41\", CHAPTERS=, VARY=, SCHEDULER=)"
	@echo "                into _build/sweep/: draws.csv and robustness.csv (how often each claim holds)"
	@echo "make survey     every chapter at DRAWS=32 parameter draws over the whole stated ranges (VARY=all), on Dask,"
	@echo "                committed as book/presets/robustness-vary.csv"
	@echo "make env        create or refresh .venv from requirements.lock (the others call it)"

# .venv is (re)built when missing, when its Python is broken, or when the lock or pyproject changed.
# Every file pip installs is checked against the lock's hashes (--require-hashes), wheels only (no sdist's
# build backend fetched unpinned; every locked package has wheels). The lock holds the build backend too
# (pyproject's [build-system] requires, exact pins), so the package itself installs without build isolation
# and without dependencies: nothing outside the lock is downloaded.
env: $(STAMP)
$(STAMP): requirements.lock pyproject.toml
	@if ! [ -x $(PY) ] || ! $(PY) -c 'import sys' 2>/dev/null; then \
	  echo "Creating $(VENV) with $(PYTHON)"; rm -rf $(VENV); $(PYTHON) -m venv $(VENV); fi
	@$(PY) -c 'import sys; v = "%d.%d" % sys.version_info[:2]; (v != "$(LOCK_PYTHON)") and print(f"warning: the lock was made for Python $(LOCK_PYTHON), .venv has {v}")'
	$(PY) -m pip install --quiet --disable-pip-version-check --require-hashes --only-binary :all: -r requirements.lock
	$(PY) -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	@touch $@

# The two nbval passes run side by side (the portable one keeps a core only partly busy); each prints its
# output when it ends.
test: env unit
	@$(MAKE) --no-print-directory -j2 --output-sync=target nbval nbval-portable

# ruff's settings are in pyproject.toml (book/ruff.toml narrows the chapters' width); `ruff format .` fixes the format.
# scripts/chapter_budget.py holds the chapters to lecture size (1,000 code lines in all, cells of 30, no classes);
# scripts/check_docstrings.py holds the public API's docstrings to numpydoc (every parameter with a type and a
# description, Returns and Raises entries described), the layout the API page renders.
lint: env
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) scripts/chapter_budget.py
	$(PY) scripts/check_docstrings.py

# Both spread over the cores (pytest-xdist); a notebook's cells stay together on one worker.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)

# --doctest-modules over lib/: the Examples sections of the docstrings run as doctests.
unit: env
	$(NB_ENV) $(PY) -m pytest -n $(JOBS) --dist loadfile --durations=12 --doctest-modules tests lib

# Both nbval passes build every figure but glue it in draft (DEEPLINEAR_DRAFT_FIGURES=1: a coarse PNG, no phone
# rendition): nbval never compares pixels, and rendering them at 2x with a phone copy was most of a chapter's time.
# `make execute` renders them in full, and the site test checks the committed ones.
NBVAL = DEEPLINEAR_DRAFT_FIGURES=1 $(PY) -m pytest --dist loadfile --nbval --nbval-current-env \
	  --nbval-sanitize-with tests/nbval_sanitize.cfg -p no:cacheprovider $(NOTEBOOKS)

nbval: env
	$(NB_ENV) $(NBVAL) -n $(JOBS)

# The same committed outputs under a second numerical configuration of this machine: another OpenBLAS kernel
# than the one it runs by default, numpy's SIMD dispatch off above its baseline, two threads
# (scripts/portability.py chooses; book/numbers-that-travel.md says what a chapter may print).
# Two threads per notebook, so half as many notebooks at a time as there are cores.
nbval-portable: env
	@portable="$$($(PY) scripts/portability.py env)" && \
	  echo "$(NB_ENV) $$portable $(NBVAL) -n $$(( ($(JOBS) + 1) / 2 ))" && \
	  eval "$(NB_ENV) $$portable $(NBVAL) -n $$(( ($(JOBS) + 1) / 2 ))"

book: env
	$(NB_ENV) $(VENV)/bin/jupyter-book build . --warningiserror --keep-going
	@echo "The book is built: open file://$(CURDIR)/_build/html/index.html"

# The book as one PDF through Jupyter Book's LaTeX builder (xelatex), from the committed chapters, then a check
# that it holds every page of the table of contents (scripts/check_pdf.py). README, "The book as a PDF".
pdf: env
	@for tool in xelatex latexmk pdfinfo pdftotext; do command -v $$tool >/dev/null || { \
	  echo "make pdf needs $$tool: install the LaTeX packages listed in README, \"The book as a PDF\""; exit 1; }; done
	rm -f _build/latex/book.pdf
	$(NB_ENV) $(VENV)/bin/jupyter-book build . --builder pdflatex --warningiserror --keep-going
	$(PY) scripts/check_pdf.py _build/latex/book.pdf

execute: env
	$(NB_ENV) $(PY) scripts/book_tools.py execute $(NB)

# speed.py, then peers.py: JAX, numba, PyTorch and both of train's engines side by side (peers not installed are
# skipped with a line saying so; they are extras of the benchmark, not of the book).
benchmark: env
	$(PY) benchmarks/speed.py
	$(PY) benchmarks/peers.py

# requirements.lock: uv resolves pyproject's dependencies, the extras make env installs (book, test, sweep) and
# the build backend ([build-system] requires) for every platform (--universal), for Python $(LOCK_PYTHON) and up,
# with the hash of every file. uv keeps the versions already in the lock wherever they still fit;
# `make lock UPGRADE=1` moves every package to its newest allowed version. Then environment.yml (conda users)
# and binder/environment.yml (Binder, the chapters' runtime only) are written from it (scripts/environments.py).
UV_VERSION  := 0.13.9
LOCK_ARGS    = pyproject.toml --extra book --extra test --extra sweep --universal --python-version $(LOCK_PYTHON) \
	       --generate-hashes
lock:
	rm -rf _build/lockenv
	$(PYTHON) -m venv _build/lockenv
	_build/lockenv/bin/python -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	_build/lockenv/bin/python scripts/environments.py build-requires > _build/lockenv/build-system-requires.txt
	_build/lockenv/bin/uv pip compile --quiet $(LOCK_ARGS) _build/lockenv/build-system-requires.txt \
	  $(if $(UPGRADE),--upgrade) --custom-compile-command "make lock  # uv $(UV_VERSION) pip compile $(LOCK_ARGS)" \
	  -o requirements.lock
	_build/lockenv/bin/python scripts/environments.py sync
	rm -rf _build/lockenv

clean:
	rm -rf _build

# Rerun every chapter through papermill with a preset (book: the defaults; paper: the papers' settings),
# in parallel, into _build/reproduce/$(PRESET)/ with claims.json; the committed chapters are not touched.
PRESET ?= book
reproduce: env
	$(NB_ENV) $(PY) -m deeplinear_book.run --all --preset $(PRESET) --jobs $(JOBS) $(if $(SEED),--seed $(SEED))

# The report's "At the papers' settings" table reads a committed paper-preset run: refresh it (commit first,
# so that the run names a clean commit), then review and commit the two changed files. CHAPTERS="03 06"
# reruns only those chapters; the others keep their entries, each naming the commit it ran.
paper-claims: env
	@git diff --quiet HEAD || { echo "commit your changes first: the run records the commit it ran"; exit 1; }
	$(NB_ENV) $(PY) -m deeplinear_book.run --all --preset paper --jobs $(JOBS) $(if $(CHAPTERS),--only $(CHAPTERS)) \
	  --merge-into book/presets/claims-paper.json || echo "some claims are not reproduced at the papers' settings"
	$(MAKE) execute NB=book/reproduction-report.ipynb

# Every chapter but the report (or CHAPTERS="01 06") at SEEDS=N (the seeds 0 to N-1) or SEEDS="29 41" (those
# seeds), each draw a Dask task: on a LocalCluster of one single-threaded worker process per core (WORKERS=n),
# or on the cluster at SCHEDULER=tcp://host:8786 (or DASK_SCHEDULER_ADDRESS). Draws are cached per chapter,
# parameters and commit in _build/sweep/cache/: a rerun executes only what is missing. VARY="k depth" draws those
# parameters too, from the ranges declared in lib/deeplinear_book/parameters.toml (deeplinear_book.ranges).
# README, "Sweeps over seeds (Dask)".
SEEDS ?= 8
sweep: env
	$(NB_ENV) $(PY) -m deeplinear_book.sweep --seeds $(or $(SEEDS),8) $(if $(CHAPTERS),--chapters $(CHAPTERS)) \
	  $(if $(VARY),--vary $(VARY)) $(if $(SPAN),--span $(SPAN)) $(if $(OUT),--out $(OUT)) \
	  $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(WORKERS),--workers $(WORKERS))

# The parameter survey the report reads: every chapter at DRAWS=32 draws, each with every size, depth and
# learning-rate parameter drawn over its whole stated range (VARY=all), on Dask like make sweep, into
# _build/survey/; then copied to book/presets/robustness-vary.csv (and .json, its metadata) for review and commit.
DRAWS ?= 32
survey: env
	$(NB_ENV) $(PY) -m deeplinear_book.sweep --seeds $(DRAWS) --vary all --span whole --out _build/survey \
	  $(if $(CHAPTERS),--chapters $(CHAPTERS)) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) \
	  $(if $(WORKERS),--workers $(WORKERS)) || echo "some draws failed: see _build/survey/draws.csv"
	cp _build/survey/robustness.csv book/presets/robustness-vary.csv
	cp _build/survey/sweep.json book/presets/robustness-vary.json
