# Fresh machine: `make demo` or `make test`. Both create .venv when absent and install what they need, torch first
# (the CPU wheel 2.13.0; an open range would pull a multi-GB CUDA build).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip --disable-pip-version-check -q
STAMP := $(VENV)/.gansteer-installed

.PHONY: install demo test lint bench clean browser

install: $(STAMP)

$(STAMP): pyproject.toml Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install torch==2.13.0
	$(PIP) install -e '.[dev]'
	$(PIP) install --no-deps gan-face-generate
	touch $@

demo: install
	$(VENV)/bin/gansteer demo --out out

test: install browser
	$(PY) -m pytest -q

# The explorer's browser tests drive Debian's chromium package; install it with apt when missing (never a download
# of our own). Not root and no sudo: the browser tests skip and say why.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then apt-get update -q && apt-get install -y -q chromium; \
	  elif sudo -n true 2>/dev/null; then sudo apt-get update -q && sudo apt-get install -y -q chromium; \
	  else echo "chromium missing and not root: the browser tests will be skipped"; fi; } || \
	  echo "could not install chromium with apt: the browser tests will be skipped"

lint: install
	$(VENV)/bin/ruff check src tests bench

clean:
	rm -rf $(VENV) out runs .pytest_cache
