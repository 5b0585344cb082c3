"""Fixtures of the fault tests: puts this directory on ``sys.path``.

Dask starts its workers with multiprocessing's *spawn* method, which hands the parent's
``sys.path`` to the child, so helper modules here (``faults_*.py``) are importable by
the workers of an in-process run too.  Helpers are imported from ``faults_testutil``,
never from this file (``conftest`` names collide across test folders).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def demo_data(make_demo_data) -> Path:
    """A small real DeePMD-kit dataset (``hpo-demo-data``, 40 frames), made once per session."""
    return make_demo_data(40, 3)
