# fsc-teach: two commands do everything on a fresh machine with Python >= 3.10 and make.
#   make course   # venv + install + data + execute every notebook (FSC_SCALE, default standard) into build/
#   make test     # venv + install + data + the test suite (unit tests, then each notebook executed once by nbval)
# Also: make test-fast (unit tests, the edit-test loop), make test-classroom (nbgrader autograding of every
# notebook), make test-cluster (Dask), make sync (jupytext), make benchmark, make editions, make site.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCALE  ?= $(or $(FSC_SCALE),standard)
export FSC_DATA ?= $(CURDIR)/data
# Idle OpenMP threads sleep instead of spinning: small tensors on a busy 2-core machine stay fast.
export OMP_WAIT_POLICY ?= PASSIVE
# pytest's exit status 5 means "no tests collected": report it, do not fail on it.
PYTEST = run() { "$$@"; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; return $$rc; }; run \
	$(BIN)/python -m pytest

.PHONY: course test test-fast test-classroom test-cluster sync data system notebooks install clean lab benchmark \
	editions site

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	touch $@

install: $(BIN)/.installed

# Debian packages, when apt-get can install them: the offline Fashion-MNIST (and, for the tests, Chromium).
system:
	@scripts/system-packages.sh dataset-fashion-mnist

data: $(BIN)/.installed system
	$(BIN)/python -m fsc_teach.data fetch fashion_mnist

course: data
	$(BIN)/python scripts/course.py run --scale $(SCALE) --out build

# Maintainers: execute at `standard` and commit the outputs into notebooks/*.ipynb.
notebooks: data
	$(BIN)/python scripts/course.py run --scale $(SCALE) --out build --in-place

# Unit tests (the nbgrader autograding of notebook 07 and the browser test of the site included), then every
# notebook executed once at quick scale by nbval: every cell runs, the NBVAL_CHECK_OUTPUT cells match the committed
# outputs, and the student edition's exercises are replayed (tests/ci_notebooks.py). Two notebooks run at a time
# (pytest-xdist, one notebook per worker), which keeps the 2-core CI machine busy.
test: data
	@scripts/system-packages.sh chromium chromium-driver
	$(PYTEST) -q -m "not classroom and not cluster" tests
	$(BIN)/python tests/ci_notebooks.py build/ci
	export FSC_SCALE=quick FSC_STATIC=1 PYTHONPATH=tests; $(PYTEST) -q -p no:cacheprovider -p nbval_timing --nbval-lax \
		--nbval-current-env -n 2 --dist loadfile build/ci

# The edit-test loop: unit tests only, no notebook execution (under 2 minutes).
test-fast: data
	$(PYTEST) -q -m "not slow and not classroom and not cluster" tests

# nbgrader end to end on every notebook: full marks for the instructor edition, zero for the unanswered one.
test-classroom: data
	export FSC_SCALE=quick; $(PYTEST) -q -m classroom tests/test_classroom.py

# The benchmark grid on a local Dask cluster (needs the `cluster` extra: pip install -e '.[cluster]').
test-cluster: data
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test,cluster]'
	$(PYTEST) -q -m cluster tests

# After editing a notebook or its source in notebooks/src: bring the other one up to date.
sync: install
	$(BIN)/jupytext --sync notebooks/src/*.py

# The few-shot benchmark of notebook 07 outside Jupyter (resumable: rerun after an interruption).
benchmark: data
	$(BIN)/python -m fsc_teach.benchmark --scale $(SCALE) --out build/benchmark

# Classroom kit: an nbgrader course folder (source = instructor edition, release = student edition).
editions: install
	$(BIN)/python -m fsc_teach.classroom editions --out build/course

# The course as a static site that works offline (the committed outputs, MathJax served locally).
site: install
	$(BIN)/python -m fsc_teach.site --out build/site

lab: data
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf build .pytest_cache
