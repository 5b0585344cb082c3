"""Fixtures of the DeePMD-kit plugin tests: the demo dataset and small specs.

Everything here is real: the demo data come from the ``hpo-demo-data`` console script,
trainings from DeePMD-kit's ``dp``.  Tests that train are marked ``slow``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from deepmd_testutil import VENV_BIN, run_exe


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small demo dataset (80 frames: 60 training, 20 validation), made once per session."""
    exe = VENV_BIN / "hpo-demo-data"
    if not exe.exists():
        pytest.skip(f"no hpo-demo-data console script next to {sys.executable}")
    out = tmp_path_factory.mktemp("demo") / "data"
    done = run_exe([str(exe), str(out), "--frames", "80", "--seed", "3"])
    assert done.returncode == 0, done.stderr
    return out
