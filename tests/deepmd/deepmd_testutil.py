"""Helpers of the DeePMD-kit plugin tests: spec files around a template, running CLIs."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent
DATA = REPO / "tests" / "data" / "deepmd"
PAPER_TEMPLATE = REPO / "configs" / "templates" / "deepmd_se_e2_a_paper.json"
QUICKSTART = REPO / "configs" / "quickstart.yaml"

#: The paper's seven parameters (Table 1) as a spec's space.
PAPER_SPACE: dict[str, Any] = {
    "start_lr": {"type": "float", "init": [3.51e-8, 0.01], "sigma": 0.001},
    "stop_lr": {"type": "float", "init": [3.51e-8, 0.0001], "sigma": 0.0001},
    "rcut": {"type": "float", "init": [6.0, 12.0], "sigma": 0.0625},
    "rcut_smth": {"type": "float", "init": [2.0, 6.0], "sigma": 0.0625},
    "scale_by_worker": {"type": "choice", "choices": ["linear", "sqrt", "none"], "sigma": 0.0625},
    "desc_activ_func": {"type": "choice", "choices": ["relu", "relu6", "softplus", "sigmoid", "tanh"],
                        "sigma": 0.0625},
    "fitting_activ_func": {"type": "choice", "choices": ["relu", "relu6", "softplus", "sigmoid", "tanh"],
                           "sigma": 0.0625},
}


def deepmd_spec(run_dir: Path, template: str, *, space: dict[str, Any] | None = None,
                **trainer: Any) -> dict[str, Any]:
    """A spec mapping with the ``deepmd`` trainer on ``template`` (a path)."""
    return {
        "name": "t",
        "seed": 5,
        "run_dir": str(run_dir),
        "space": space if space is not None else {
            "x": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1},
            "act": {"type": "choice", "choices": ["tanh", "relu"], "sigma": 0.5},
        },
        "objectives": [{"name": "energy_rmse", "unit": "eV/atom"}, {"name": "force_rmse", "unit": "eV/A"}],
        "trainer": {"plugin": "deepmd", "template": template, **trainer},
        "optimizer": {"plugin": "nsga2", "pop_size": 2, "generations": 0},
        "launcher": {"plugin": "dask", "workers": 1},
    }


def write_spec(path: Path, spec: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    return path


def run_exe(argv: list[str], cwd: Path | None = None, timeout: float = 300,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """Run a console script of this venv with the venv's bin first on PATH (for ``dp``)."""
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", **(env or {})}
    # check=False: the tests assert on the exit status themselves
    return subprocess.run(argv, check=False, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def hpo_run(*args: str, cwd: Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    """The real ``hpo-run`` console script, on a wide virtual terminal (rich wraps at 80)."""
    return run_exe([str(VENV_BIN / "hpo-run"), *args], cwd=cwd, timeout=timeout, env={"COLUMNS": "250"})
