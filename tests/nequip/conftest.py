"""Fixtures of the NequIP plugin tests: the demo dataset (with its extxyz copies).

Everything here is real: the data come from the ``hpo-demo-data`` console script and
trainings from NequIP's ``nequip-train``; tests that need NequIP skip with the reason
when it is not installed (``pip install torch==2.13.0 && pip install -e ".[nequip]"``).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))


@pytest.fixture(scope="session")
def nequip_demo_data(make_demo_data) -> Path:
    """A small demo dataset (40 frames: 30 training, 10 validation), made once per session."""
    return make_demo_data(40, 5)
