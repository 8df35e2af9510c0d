# Ocean-E2E. Every target installs into a virtual environment (.venv) on first use.
#   make demo   - the whole pipeline on the embedded synthetic ocean, ending in a skill report
#   make test   - the test suite
VENV ?= .venv
PYTHON ?= python3
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test test-all lint bench install clean-venv lock

$(STAMP): requirements.txt requirements-dev.txt constraints.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q --upgrade pip
	$(VENV)/bin/pip install -q -r requirements-dev.txt -c constraints.txt
	$(VENV)/bin/pip install -q --no-deps -e .
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(PY) -m oceane2e pipeline --config configs/pipeline.yaml $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q -m "not slow" $(ARGS)

test-all: $(STAMP)
	$(PY) -m pytest -q $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

bench: $(STAMP)
	$(PY) benchmarks/bench_kernel.py

clean-venv:
	rm -rf $(VENV)

# The newest releases within requirements*.txt, written as exact pins to constraints.txt (then: make clean-venv test).
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv && .lock-venv/bin/pip install -q -r requirements-dev.txt
	{ sed -n '/^#/p' constraints.txt; .lock-venv/bin/pip freeze --exclude-editable | grep -v '^#' | sed 's/+cpu$$//'; } > constraints.txt.new
	mv constraints.txt.new constraints.txt && rm -rf .lock-venv
