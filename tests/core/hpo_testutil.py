"""Helpers of the core tests: small specs, and running the real ``hpo-run``."""

from __future__ import annotations

import csv
import os
import subprocess
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
MAXINT = 2147483647.0  # numpy.iinfo(numpy.int32).max, the paper's failure fitness


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


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def subprocess_env() -> dict[str, str]:
    """os.environ with this directory first on PYTHONPATH (for hpo_testfuncs)."""
    env = dict(os.environ)
    parts = [str(HERE)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env


def run_cli(exe: Path, *args: str, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run the real console script; it and its Dask workers can import hpo_testfuncs."""
    return subprocess.run([str(exe), *args], cwd=cwd, env=subprocess_env(),
                          check=False, capture_output=True, text=True, timeout=timeout)


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def header(path: Path) -> list[str]:
    with open(path, newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))
