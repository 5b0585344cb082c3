"""Helpers of the core tests: small specs, and running the real ``hpo-run``."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path

from cli_testutil import write_spec, zdt_spec  # noqa: F401 - the tests' helpers

HERE = Path(__file__).resolve().parent
MAXINT = 2147483647.0  # numpy.iinfo(numpy.int32).max, the paper's failure fitness


def subprocess_env(**variables: str) -> dict[str, str]:
    """os.environ and ``variables``, with this directory first on PYTHONPATH (for hpo_testfuncs)."""
    env = {**os.environ, **variables}
    parts = [str(HERE)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def run_cli(exe: Path, *args: str, cwd: Path, timeout: float = 120, **variables: str) -> subprocess.CompletedProcess:
    """Run the real console script, with ``variables`` in its environment; it and its Dask
    workers can import hpo_testfuncs."""
    return subprocess.run([str(exe), *args], cwd=cwd, env=subprocess_env(**variables),
                          check=False, capture_output=True, text=True, timeout=timeout)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))
