"""Fixtures of the core tests.

Helper trainer functions live in ``hpo_testfuncs.py`` next to this file.  Dask starts
its worker processes with multiprocessing's *spawn* method, which hands the parent's
``sys.path`` to the child, so putting this directory on ``sys.path`` here (before any
cluster starts) lets in-process runs name ``hpo_testfuncs:...`` as a callable.  A
``hpo-run`` subprocess gets it through PYTHONPATH instead (hpo_testutil.run_cli);
test_records.py checks both routes really reach the workers.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from hpo_testutil import write_spec, zdt_spec


@pytest.fixture
def spec_file(tmp_path: Path):
    """Factory: write zdt_spec(**kwargs) to tmp_path/<name>; run_dir defaults to tmp_path/run."""

    def make(name: str = "spec.yaml", **kwargs: Any) -> Path:
        kwargs.setdefault("run_dir", tmp_path / "run")
        return write_spec(tmp_path / name, zdt_spec(**kwargs))

    return make
