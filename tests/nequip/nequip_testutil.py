"""Helpers of the NequIP plugin tests: is NequIP here, specs around a template, the CLIs."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest
from cli_testutil import VENV_BIN, hpo_run, run_exe, trainer_spec, write_spec  # noqa: F401 - the tests' helpers

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "nequip"
DEMO_SPEC = REPO / "configs" / "nequip-demo.yaml"
DEMO_TEMPLATE = REPO / "configs" / "templates" / "nequip_demo.yaml"
MAXINT = 2147483647.0  # numpy.iinfo(numpy.int32).max, the paper's failure fitness

#: Two parameters of each kind, for tests that train seconds.
SMALL_SPACE: dict[str, Any] = {
    "r_max": {"type": "float", "init": [3.0, 5.0], "sigma": 0.1},
    "act": {"type": "choice", "choices": ["silu", "tanh"], "sigma": 0.5},
}


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


def nequip_spec(run_dir: Path, template: str, *, space: dict[str, Any] | None = None,
                **trainer: Any) -> dict[str, Any]:
    """A spec mapping with the ``nequip`` trainer on ``template`` (a path)."""
    return trainer_spec(run_dir, {"plugin": "nequip", "template": template, **trainer},
                        space if space is not None else SMALL_SPACE)
