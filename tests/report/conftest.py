"""Real runs of hpo-run that several modules of the report tests read alike, each made once
per test process (a pytest-xdist worker makes its own).  A test reads a copy of one
(shutil.copytree, as a run directory copied or moved elsewhere), never the run itself."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_testutil import OBJECTIVES, hpo_run, write_spec, zdt_spec


def _finished(argv: list[str], cwd: Path) -> str:
    """hpo-run's stdout of a run that must finish (the fixtures ask for ``hpo_run_exe``:
    skipped where the console script is not installed)."""
    done = hpo_run(*argv, cwd=cwd, timeout=180)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.fixture(scope="session")
def zdt1_function_run(tmp_path_factory, repo_root, hpo_run_exe) -> Path:
    """configs/zdt1-function.yaml (ZDT1, function trainer) with 8 per generation,
    generations 0 to 2, one local Dask worker: finished, its journal closed."""
    cwd = tmp_path_factory.mktemp("zdt1-function")
    _finished([str(repo_root / "configs" / "zdt1-function.yaml"), "--set", "run_dir=run", "--set",
               "optimizer.pop_size=8", "--set", "optimizer.generations=2", "--set", "launcher.workers=1"], cwd)
    run = cwd / "run"
    assert not (run / "journal.sqlite-wal").exists()  # the driver closed its journal
    return run


@pytest.fixture(scope="session")
def potential_run(tmp_path_factory, hpo_run_exe) -> tuple[str, Path]:
    """hpo-run's stdout and the run directory of ZDT1 (function trainer) with a trained
    potential's objectives (energy_rmse in eV/atom, force_rmse in eV/A): 4 per generation,
    generations 0 and 1."""
    cwd = tmp_path_factory.mktemp("potential")
    spec = write_spec(cwd / "run.yaml", zdt_spec(cwd / "run", pop_size=4, generations=1, objectives=OBJECTIVES))
    return _finished([str(spec)], cwd), cwd / "run"
