"""Helpers of the NequIP plugin tests: is NequIP here, specs around a template, the CLIs."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DATA = REPO / "tests" / "data" / "nequip"
DEMO_SPEC = REPO / "configs" / "nequip-demo.yaml"
DEMO_TEMPLATE = REPO / "configs" / "templates" / "nequip_demo.yaml"
MAXINT = 2147483647.0  # numpy.iinfo(numpy.int32).max, the paper's failure fitness


def nequip_train() -> Path:
    """The ``nequip-train`` of this venv; skips the test (saying why) when NequIP is absent."""
    if importlib.util.find_spec("nequip") is None:
        pytest.skip("NequIP is not installed here (pip install torch==2.13.0, then "
                    "pip install -e '.[nequip]'): the real-training test cannot run")
    exe = VENV_BIN / "nequip-train"
    if not exe.exists():
        pytest.skip(f"nequip is importable but there is no nequip-train next to {sys.executable}")
    return exe


def demo_overrides(run_dir: Path, data: Path, *extra: str) -> list[str]:
    """``--set`` values that run configs/nequip-demo.yaml tiny, on ``data``, into ``run_dir``."""
    return [f"run_dir={run_dir}", f"trainer.settings.train_file={data / 'train.extxyz'}",
            f"trainer.settings.val_file={data / 'valid.extxyz'}", *extra]


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def nequip_spec(run_dir: Path, template: str, *, space: dict[str, Any] | None = None,
                **trainer: Any) -> dict[str, Any]:
    """A spec mapping with the ``nequip`` trainer on ``template`` (a path)."""
    return {
        "name": "t",
        "seed": 5,
        "run_dir": str(run_dir),
        "space": space if space is not None else {
            "r_max": {"type": "float", "init": [3.0, 5.0], "sigma": 0.1},
            "act": {"type": "choice", "choices": ["silu", "tanh"], "sigma": 0.5},
        },
        "objectives": [{"name": "energy_rmse", "unit": "eV/atom"}, {"name": "force_rmse", "unit": "eV/A"}],
        "trainer": {"plugin": "nequip", "template": template, **trainer},
        "optimizer": {"plugin": "nsga2", "pop_size": 2, "generations": 0},
        "launcher": {"plugin": "dask", "workers": 1},
    }


def run_exe(argv: list[str], cwd: Path | None = None, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a console script of this venv with the venv's bin first on PATH (for nequip-train)."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    # check=False: the tests assert on the exit status themselves
    return subprocess.run(argv, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def hpo_run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real ``hpo-run`` console script, on a wide virtual terminal (rich wraps at 80)."""
    return run_exe([str(VENV_BIN / "hpo-run"), *args], cwd=cwd, timeout=timeout, env={"COLUMNS": "250"})
