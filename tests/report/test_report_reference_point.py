"""A --reference that no solution beats is reported, not taken silently.

A review's `hpo-report RUN --reference=-1,-1` exited 0 with a hypervolume of 0 in every
generation and nothing said.  Now one warning line on stderr and a note in summary.md
(exit status still 0: the report is written).  A real run of hpo-run (ZDT1 through the
function trainer, energy and force objectives).
"""

from __future__ import annotations

import csv
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
WARNING = ("hpo-report: warning: no solution is better than the reference point (-1 eV/atom, -1 eV/A) in every "
           "objective: every hypervolume is 0")


@pytest.fixture(scope="module")
def run(tmp_path_factory, potential_run) -> Path:
    """A copy of conftest.py's potential_run: ZDT1 with the objectives of cli_testutil.OBJECTIVES."""
    if not (BIN / "hpo-report").exists():
        pytest.skip("hpo-report is not installed next to this interpreter (pip install -e .)")
    return shutil.copytree(potential_run[1], tmp_path_factory.mktemp("reference") / "run")


def report(run: Path, out: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "hpo-report"), str(run), "--out", str(run.parent / out), *args],
                          capture_output=True, text=True, timeout=120, check=False)


def test_a_reference_no_solution_beats_is_one_warning_and_a_note(run):
    done = report(run, "below", "--reference=-1,-1")
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [WARNING]
    with open(run.parent / "below" / "hypervolume.csv", newline="", encoding="utf-8") as handle:
        assert {float(r["hypervolume"]) for r in csv.DictReader(handle)} == {0.0}
    summary = (run.parent / "below" / "summary.md").read_text(encoding="utf-8")
    assert f"**Note: {WARNING.removeprefix('hpo-report: warning: ')}.**" in summary


def test_a_reference_some_solution_beats_says_nothing(run):
    done = report(run, "default")
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "every hypervolume is 0" not in (run.parent / "default" / "summary.md").read_text(encoding="utf-8")
