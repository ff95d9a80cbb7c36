# Two commands do all the set-up on a fresh machine: `make demo` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export OMP_WAIT_POLICY ?= PASSIVE
export PYTHONHASHSEED  ?= 0

.PHONY: demo test test-slow lint bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

demo: $(STAMP)  ## synthetic data -> validate -> features -> train -> score -> report -> monitor
	$(BIN)/healthscore demo

test: $(STAMP)  ## the default suite (scale checks excluded)
	$(BIN)/pytest -q -m "not slow"

test-slow: $(STAMP)  ## scale checks (bounded sizes) and 240 point-in-time examples
	HEALTHSCORE_PIT_EXAMPLES=240 $(BIN)/pytest -q -m "slow or property"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench

clean:
	rm -rf healthscore-out mlflow.db .pytest_cache
