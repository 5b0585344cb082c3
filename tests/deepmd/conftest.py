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


@pytest.fixture(scope="session")
def demo_data(make_demo_data) -> Path:
    """A small demo dataset (80 frames: 60 training, 20 validation), made once per session."""
    return make_demo_data(80, 3)
