# fsc-teach: two commands do everything on a fresh machine with Python >= 3.10 and make.
#   make course   # venv + install + data + execute every notebook (FSC_SCALE, default standard) into build/
#   make test     # venv + install + data + the test suite (unit tests, notebooks at quick scale, nbval)
# Also: make benchmark (notebook 07's grid as a command), make editions (student/instructor), make site (HTML).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCALE  ?= $(or $(FSC_SCALE),standard)
export FSC_DATA ?= $(CURDIR)/data
# Idle OpenMP threads sleep instead of spinning: small tensors on a busy 2-core machine stay fast.
export OMP_WAIT_POLICY ?= PASSIVE

.PHONY: course test data notebooks install clean lab benchmark editions site

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@

install: $(BIN)/.installed

data: $(BIN)/.installed
	$(BIN)/python -m fsc_teach.data fetch fashion_mnist

course: data
	$(BIN)/python scripts/course.py run --scale $(SCALE) --out build

# Maintainers: execute at `standard` and commit the outputs into notebooks/*.ipynb.
notebooks: data
	$(BIN)/python scripts/course.py run --scale $(SCALE) --out build --in-place

test: data
	FSC_SCALE=quick $(BIN)/python -m pytest -q tests; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests"; rc=0; fi; \
	[ $$rc -eq 0 ] || exit $$rc; \
	nbs="$(wildcard notebooks/*.ipynb)"; [ -n "$$nbs" ] || { echo "no notebooks to check"; exit 0; }; \
	FSC_SCALE=quick FSC_STATIC=1 $(BIN)/python -m pytest -q --nbval-lax --nbval-current-env -p no:cacheprovider $$nbs; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "no notebooks to check"; rc=0; fi; exit $$rc

# The few-shot benchmark of notebook 07 outside Jupyter (resumable: rerun after an interruption).
benchmark: data
	$(BIN)/python -m fsc_teach.benchmark --scale $(SCALE) --out build/benchmark

# Classroom kit: student and instructor editions, and the course as a static site (committed outputs).
editions: install
	$(BIN)/python -m fsc_teach.classroom editions --out build/editions

site: install
	$(BIN)/python -m fsc_teach.classroom site --out build/site

lab: data
	$(BIN)/jupyter lab notebooks/

clean:
	rm -rf build .pytest_cache
