# Fresh machine: `make demo` or `make test`. Both create .venv when absent and install what they need, torch first
# (the CPU wheel 2.13.0; an open range would pull a multi-GB CUDA build).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.gansteer-installed

.PHONY: install demo test lint bench clean

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[dev]'
	$(PIP) install --no-deps gan-face-generate
	touch $@

demo: install
	$(VENV)/bin/gansteer demo --out out

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check src tests bench

clean:
	rm -rf $(VENV) out runs .pytest_cache
