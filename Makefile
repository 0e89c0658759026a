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
	$(KS) run -m Lørenskog --intervals --out results/lorenskog
	$(KS) run -m Lillestrøm --out results/lillestrom
	$(KS) run experiments/scenarios/lillestrom_zones_housing.toml --out results/lillestrom_zones_housing
	$(KS) compare experiments/scenarios/lillestrom_zones.toml \
		experiments/scenarios/lillestrom_zones_housing.toml --out results/compare
	$(KS) run -m Oslo --zones bydeler --out results/oslo_bydeler
	$(KS) run -m all --horizon 2050 --out results/norge
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
