# Two entry points for a fresh clone: `make quickstart` and `make test`.
# Both create .venv (Python 3.11+; `make PYTHON=python3.12 test` picks another) and install the project with DeePMD-kit and NequIP for the CPU.
PYTHON ?= python3
VENV ?= .venv
BIN = $(VENV)/bin

.PHONY: install quickstart test test-fast bench clean

$(BIN)/.installed: pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "make: $(PYTHON) is Python $$($(PYTHON) -c 'import platform; print(platform.python_version())'); dnnp-hpo needs 3.11 or newer (leap-ec 0.8.2 does): make PYTHON=python3.11 $(MAKECMDGOALS)" >&2; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[deepmd,test]"
# NequIP for the nequip trainer and its real-training tests (~1 min): torch first, on its
# own, so that pip takes the CPU build of torch 2.13 instead of a multi-GB CUDA one (this
# relies on pip finding a +cpu wheel, as on the CI machines; docs/nequip.md, Install).
	$(BIN)/python -m pip install --quiet torch==2.13.0
	$(BIN)/python -m pip install --quiet -e ".[nequip]"
	touch $@

install: $(BIN)/.installed

# The demo data (hpo-demo-data, seconds) are made once into runs/demo-data; each
# quickstart gets a run directory of its own, so it can be run again.
quickstart: install
	$(BIN)/hpo-demo-data --if-missing runs/demo-data
	$(BIN)/hpo-run configs/quickstart.yaml --set run_dir=runs/quickstart-$$(date +%Y%m%d-%H%M%S)

# The suite runs in TEST_WORKERS processes (pytest-xdist): most tests wait on trainings,
# subprocesses and time limits, so two side by side on 2 cores take about 60% of the time
# one takes (about 1800 tests in 12.5 to 15 min on a fresh clone). TEST_WORKERS=0 runs every
# test in the one pytest process. worksteal: a process that runs out of tests takes some
# of the other's, so the run does not end on one process's queue of long ones.
TEST_WORKERS ?= 2
PYTEST_PARALLEL = -n $(TEST_WORKERS) --dist worksteal

# The 25 slowest tests are listed at the end: the suite must stay under 20 minutes on
# 2 cores, and a CI log then shows where its time goes.
test: install
	$(BIN)/pytest $(PYTEST_PARALLEL) --durations=25

test-fast: install
	$(BIN)/pytest $(PYTEST_PARALLEL) -m "not slow"

# Benchmarks (docs/benchmarks.md): all eight sections, ~38 min on 2 cores (measured: quality
# 0.75, sorting 1.2, engine 4, steady state 20, time bias 10.5, waiting 1.2, data digest
# under 0.5, start-up 0.5); BENCH_SEEDS=3 BENCH_RACE_SEEDS=3 for a
# quicker run, BENCH_TUNE=1 to re-tune sbx-tuned too (~10 min more).
bench: install
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python -m bench.all

clean:
	rm -rf runs .pytest_cache
