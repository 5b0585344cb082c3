# Two entry points for a fresh clone: `make quickstart` and `make test`.
# Both create .venv (Python 3.10+) and install the project with DeePMD-kit for the CPU.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install quickstart test test-fast bench clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[deepmd,test]"
	touch $@

install: $(BIN)/.installed

quickstart: install
	$(BIN)/hpo-run configs/quickstart.yaml

test: install
	$(BIN)/pytest

test-fast: install
	$(BIN)/pytest -m "not slow"

clean:
	rm -rf runs .pytest_cache
