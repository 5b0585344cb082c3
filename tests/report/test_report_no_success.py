"""A report of a run whose every evaluation failed says so, and where to read why.

A review's run: hpo-report printed "0 solutions on the front, 0 chemically accurate" with
no hint, generations.png showed empty panels zoomed onto the accuracy limits
(0.0038-0.0042) and parallel.png empty axes with a legend of "(0)" and "(0)".  Here a
real run of hpo-run whose callable returns two values for three objectives: every
training "fails" as a wrongly set up one does.
"""

from __future__ import annotations

import html
import subprocess
import sys
from pathlib import Path

import pytest
from cli_testutil import OBJECTIVES, write_spec, zdt_spec

BIN = Path(sys.executable).parent
REASON = ("dnnp_hpo.problems:zdt1 returned 2 values for 3 objectives: expected their values in spec order, or a "
          "mapping of objective names to values")


@pytest.fixture(scope="module")
def dead_run(tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """hpo-report's output and report directory for a real run where nothing succeeded."""
    if not (BIN / "hpo-report").exists():
        pytest.skip("hpo-report is not installed next to this interpreter (pip install -e .)")
    cwd = tmp_path_factory.mktemp("dead")
    objectives = [*OBJECTIVES, {"name": "virial_rmse", "unit": "eV"}]
    spec = write_spec(cwd / "dead.yaml", zdt_spec(cwd / "dead", pop_size=4, generations=1, objectives=objectives))
    run = subprocess.run([str(BIN / "hpo-run"), str(spec)], cwd=cwd, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 1 and "no evaluation succeeded" in run.stderr, run.stderr
    report = subprocess.run([str(BIN / "hpo-report"), "dead"], cwd=cwd, capture_output=True, text=True,
                            timeout=120, check=False)
    return report, cwd / "dead" / "report"


def test_the_closing_line_says_no_evaluation_succeeded(dead_run):
    report, _ = dead_run
    assert report.returncode == 0, report.stderr
    line = report.stdout.strip()
    assert "no evaluation succeeded (all 8 failed" in line and "failures.csv" in line, line
    assert "solutions on the front" not in line and "chemically accurate" not in line, line


def test_summary_says_it_first_with_the_reason(dead_run):
    _, out = dead_run
    summary = (out / "summary.md").read_text(encoding="utf-8")
    first = summary.split("## Runs")[0]
    # the commonest reason as hpo-run's closing line names it (failure_summary)
    # status error: the callable's mistake, not the candidate's (helper-79)
    assert f"**No evaluation succeeded** (8 of 8 error: {REASON})" in first, first
    assert "[Failures per generation](#failures-per-generation)" in first and "failures.csv" in first


def test_empty_figures_say_no_successful_evaluation(dead_run):
    _, out = dead_run
    generations = html.unescape((out / "generations.svg").read_text(encoding="utf-8"))
    assert generations.count("no successful evaluation") == 2  # one per panel (generations 0 and 1)
    assert "chemical accuracy limit" not in generations  # no lines to zoom the empty panels onto
    parallel = html.unescape((out / "parallel.svg").read_text(encoding="utf-8"))
    assert "no successful evaluation in the final population" in parallel
    assert "(0)" not in parallel  # no legend counting nothing
    # documented: no reference point without a successful evaluation, so no hypervolume figure
    assert not (out / "hypervolume.png").exists()
    assert "Not computed: no successful evaluation." in (out / "summary.md").read_text(encoding="utf-8")
