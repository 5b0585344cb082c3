"""Shared fixtures for every test package (keep small and generic)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def repo_root() -> Path:
    """The checkout's root directory."""
    return REPO


@pytest.fixture(scope="session")
def hpo_run_exe() -> Path:
    """The installed ``hpo-run`` console script of the interpreter running the tests."""
    exe = VENV_BIN / "hpo-run"
    if not exe.exists():
        pytest.skip(f"no hpo-run console script next to {sys.executable}")
    return exe

