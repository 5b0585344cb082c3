"""Helpers of the DeePMD-kit plugin tests: spec files around a template, running CLIs."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from cli_testutil import VENV_BIN, hpo_run, run_exe, trainer_spec, write_spec  # noqa: F401 - the tests' helpers

REPO = Path(__file__).resolve().parents[2]
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

#: Two parameters of each kind, for tests that train seconds.
SMALL_SPACE: dict[str, Any] = {
    "x": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1},
    "act": {"type": "choice", "choices": ["tanh", "relu"], "sigma": 0.5},
}

#: one candidate of the quickstart's space, for the real trainings
QUICKSTART_PARAMS: dict[str, Any] = {"start_lr": 3e-3, "stop_lr": 1e-4, "rcut": 5.0, "rcut_smth": 2.0,
                                     "scale_by_worker": "linear", "desc_activ_func": "tanh",
                                     "fitting_activ_func": "tanh"}


def demo_overrides(directory: Path, demo_data: Path, *, steps: int, every: int) -> list[str]:
    """--set values that train the quickstart spec on the demo data for ``steps`` steps,
    a row (and a learning-rate decay) every ``every``, into ``directory``/run."""
    return [f"run_dir={directory / 'run'}", f"trainer.settings.train_systems={demo_data / 'train'}",
            f"trainer.settings.valid_systems={demo_data / 'valid'}", f"trainer.settings.numb_steps={steps}",
            f"trainer.settings.disp_freq={every}", f"trainer.settings.decay_steps={every}"]


def deepmd_spec(run_dir: Path, template: str, *, space: dict[str, Any] | None = None,
                **trainer: Any) -> dict[str, Any]:
    """A spec mapping with the ``deepmd`` trainer on ``template`` (a path)."""
    return trainer_spec(run_dir, {"plugin": "deepmd", "template": template, **trainer},
                        space if space is not None else SMALL_SPACE)


def dry_run(capsys, *argv: str) -> subprocess.CompletedProcess:
    """``hpo-run ARGV --dry-run`` in this process, as the console script would exit (an
    interpreter start-up and the imports, about 2 s, saved each time)."""
    from dnnp_hpo.cli import main

    status = main([*argv, "--dry-run"])
    said = capsys.readouterr()
    return subprocess.CompletedProcess(argv, status, said.out, said.err)
