"""Helpers every test folder shares: spec files, and running this venv's console scripts.

A module at the top of tests/ (on sys.path through tests/conftest.py), as file_modes.py,
so that the trainer plugins' test helpers import the one copy.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dnnp_hpo.specfile import dump_yaml

VENV_BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]

#: what the test tools keep in the checkout; a test process beside this one (pytest-xdist)
#: may create them at any moment, hypothesis at its first example
TOOL_CACHES = frozenset({".hypothesis", ".pytest_cache"})


def checkout_entries() -> list[str]:
    """The names at the top of the checkout, but for the test tools' caches: for a test that
    a command run there wrote nothing."""
    return sorted(p.name for p in REPO.iterdir() if p.name not in TOOL_CACHES)
OBJECTIVES = [{"name": "energy_rmse", "unit": "eV/atom"}, {"name": "force_rmse", "unit": "eV/A"}]


#: a command line that puts the stop signals at their defaults, then becomes the command
_RESET_AND_EXEC = ("import os, signal, sys\n"
                   "for stop in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):\n"
                   "    signal.signal(stop, signal.SIG_DFL)\n"
                   "os.execv(sys.argv[1], sys.argv[1:])")


def from_a_terminal(argv: list[str]) -> list[str]:
    """``argv`` started as a terminal starts it, for a test that stops it with a signal: the
    stop signals at their defaults whatever the test runner inherited (a background job of
    a non-interactive shell ignores SIGINT, and hpo-run keeps an ignored signal ignored, as
    under nohup: its Ctrl-C tests then saw a run go on to its end).  Default dispositions
    survive exec; the command is exec'd in place, so its pid is the one started."""
    return [sys.executable, "-c", _RESET_AND_EXEC, *argv]


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(dump_yaml(spec), encoding="utf-8")
    return path


def zdt_spec(run_dir: Path | str, *, n: int = 4, pop_size: int = 8, generations: int = 2,
             workers: int = 1, seed: int = 7, callable_: str = "dnnp_hpo.problems:zdt1",
             **extra: Any) -> dict[str, Any]:
    """A small valid spec as a mapping (x0..x{n-1} in [0, 1], objectives f1, f2)."""
    spec: dict[str, Any] = {
        "name": "t",
        "seed": seed,
        "run_dir": str(run_dir),
        "space": {f"x{i}": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1} for i in range(n)},
        "objectives": [{"name": "f1"}, {"name": "f2"}],
        "trainer": {"plugin": "function", "callable": callable_},
        "optimizer": {"plugin": "nsga2", "pop_size": pop_size, "generations": generations},
        "launcher": {"plugin": "dask", "workers": workers},
    }
    spec.update(extra)
    return spec


def deepmd_system(path: Path, types: str = "0\n") -> Path:
    """A DeePMD-kit system as the start-up check finds one (``type.raw`` and a ``set.000``
    directory, no frames in it): for a test whose trainings never read the data."""
    (path / "set.000").mkdir(parents=True)
    (path / "type.raw").write_text(types, encoding="utf-8")
    return path


def trainer_spec(run_dir: Path, trainer: dict[str, Any], space: dict[str, Any]) -> dict[str, Any]:
    """A one-generation spec mapping (two random genomes, one local Dask worker) around
    ``trainer``, with a trained potential's two objectives."""
    return {
        "name": "t",
        "seed": 5,
        "run_dir": str(run_dir),
        "space": space,
        "objectives": OBJECTIVES,
        "trainer": trainer,
        "optimizer": {"plugin": "nsga2", "pop_size": 2, "generations": 0},
        "launcher": {"plugin": "dask", "workers": 1},
    }


def run_exe(argv: list[str], cwd: Path | None = None, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a console script of this venv with the venv's bin first on PATH (for ``dp``,
    ``nequip-train``)."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    # check=False: the tests assert on the exit status themselves
    return subprocess.run(argv, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def hpo_run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real ``hpo-run`` console script, on a wide virtual terminal (rich wraps at 80)."""
    return run_exe([str(VENV_BIN / "hpo-run"), *args], cwd=cwd, timeout=timeout, env={"COLUMNS": "250"})


def kill_driver_when(argv: list[str], cwd: Path, env: dict[str, str], started: Callable[[], object],
                     wait_until: Callable[..., bool], seconds: float = 120) -> None:
    """Run the hpo-run ``argv`` (its output in ``cwd/driver.log``) and SIGKILL it once
    ``started()`` holds (asserted, with the log), as a batch job's end or the OOM killer would."""
    log_path = cwd / "driver.log"
    with open(log_path, "wb") as log:
        driver = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        assert wait_until(started, seconds), log_path.read_text()
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
