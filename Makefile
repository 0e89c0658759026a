# Two commands do everything on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
KS := $(BIN)/kommunesim

.PHONY: run test bench lint install clean chromium

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(KS) run --municipality 3222 --out results/lorenskog
	$(KS) run --municipality 3205 --out results/lillestrom
	@echo "results and plots under results/ (see results/README.md)"

# The web app's browser tests drive Debian's Chromium (Playwright never downloads a browser).
chromium:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
		>/dev/null; } || echo "chromium missing (needs root to install): browser tests skip"

test: $(STAMP) chromium
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pytest -q -s tests/bench -p no:cacheprovider -o addopts=""

lint: $(STAMP)
	$(BIN)/ruff check sim calibration experiments tests

clean:
	rm -rf $(VENV) results/*/ .pytest_cache
