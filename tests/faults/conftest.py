"""Fixtures of the fault tests: puts this directory on ``sys.path``.

Dask starts its workers with multiprocessing's *spawn* method, which hands the parent's
``sys.path`` to the child, so helper modules here (``faults_*.py``) are importable by
the workers of an in-process run too.  Helpers are imported from ``faults_testutil``,
never from this file (``conftest`` names collide across test folders).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from faults_testutil import VENV_BIN, subprocess_env  # after HERE is on sys.path


@pytest.fixture(scope="session")
def demo_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small real DeePMD-kit dataset (``hpo-demo-data``, 40 frames), made once per session."""
    exe = VENV_BIN / "hpo-demo-data"
    if not exe.exists():
        pytest.skip(f"no hpo-demo-data console script next to {sys.executable}")
    out = tmp_path_factory.mktemp("demo") / "data"
    done = subprocess.run([str(exe), str(out), "--frames", "40", "--seed", "3"], check=False,
                          capture_output=True, text=True, timeout=300, env=subprocess_env())
    assert done.returncode == 0, done.stderr
    return out
