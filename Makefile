# outreach — every target creates .venv when missing and installs what it needs (idempotent).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev
DEPS   := pyproject.toml

.PHONY: demo test bench lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(STAMP): $(BIN)/python $(DEPS)
	$(BIN)/python -m pip install --quiet -e .
	@touch $@

$(DEVSTAMP): $(BIN)/python $(DEPS)
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@ $(STAMP)

## the whole pipeline on the sample campaign, offline, in seconds
demo: $(STAMP)
	$(BIN)/outreach demo

## the whole test suite (PostgreSQL cases run when OUTREACH_TEST_POSTGRES_URL is set)
test: $(DEVSTAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## benchmarks: figures, ceilings and ratios -> bench/results/latest.json
bench: $(DEVSTAMP)
	$(BIN)/python -m bench $(BENCH_ARGS)

lint: $(DEVSTAMP)
	$(BIN)/ruff check outreach tests bench
	$(BIN)/ruff format --check outreach tests bench

format: $(DEVSTAMP)
	$(BIN)/ruff format outreach tests bench
	$(BIN)/ruff check --fix outreach tests bench

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info bench/.peer-venv
