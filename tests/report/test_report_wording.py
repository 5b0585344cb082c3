"""hpo-report's small print: counts agree with their nouns ("1 solution"), the failures
chart of a run without failures keeps its labels on the axes, and --help is plain text.

A review found "1 solutions" in summary.md, "Report of 1 run(s)", the "0/4" labels of
failures.png cut off at the x-axis ends (the last one far outside, widening the image),
and the module's reStructuredText (``hpo-report RUN_DIR [RUN_DIR ...]``) in --help.
A real run of hpo-run whose two objectives are the same (x0 twice), so its front is one
solution.
"""

from __future__ import annotations

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from dnnp_hpo.report import plots, tables
from dnnp_hpo.report.cli import main as hpo_report_main
from dnnp_hpo.report.data import analyse

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
#: a count of 1 with a plural noun
ONE_PLURAL = re.compile(r"(?<![\d.,])1 (final |failed |later )?(solutions|evaluations|runs)\b")


def x0_twice(params):
    """Both objectives x0: one candidate dominates all others, a front of one.  Run on the Dask worker."""
    return params["x0"], params["x0"]


def hpo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    from cli_testutil import write_spec, zdt_spec

    if not (BIN / "hpo-report").exists():
        pytest.skip("hpo-report is not installed next to this interpreter (pip install -e .)")
    cwd = tmp_path_factory.mktemp("wording")
    spec = write_spec(cwd / "one.yaml", zdt_spec(cwd / "one", pop_size=4, generations=2,
                                                 callable_=f"{Path(__file__).stem}:x0_twice"))
    hpo("hpo-run", str(spec), cwd=cwd)
    return cwd / "one"


def test_counts_of_one_take_the_singular(run, capsys):
    line = hpo("hpo-report", str(run), cwd=run.parent).stdout  # the console script's line
    assert line.startswith("Report of 1 run in ") and ": 1 solution on the front," in line, line
    summary = (run / "report" / "summary.md").read_text(encoding="utf-8")
    assert "judged on its own): 1 solution, sorted by f1" in summary
    with open(run / "report" / "front.csv", newline="", encoding="utf-8") as handle:
        (best,) = [r["f1"] for r in csv.DictReader(handle)]
    # only the front's own solution is within these limits (the same main, in this process)
    assert hpo_report_main([str(run), "--out", str(run.parent / "limits"), "--accuracy", f"f1={best}",
                            "--accuracy", f"f2={best}"]) == 0
    line = capsys.readouterr().out
    assert "1 solution on the front, 1 chemically accurate;" in line, line
    summary = (run.parent / "limits" / "summary.md").read_text(encoding="utf-8")
    assert "1 of the final solutions (each training once) is chemically accurate" in summary
    for text in (line, summary):
        assert not ONE_PLURAL.search(text), ONE_PLURAL.search(text)
    # none within the limits: "All of them: accurate.csv." pointed at a file of a header alone (helper-127)
    assert hpo_report_main([str(run), "--out", str(run.parent / "none"), "--accuracy", f"f1={float(best) / 2}",
                            "--accuracy", f"f2={float(best) / 2}"]) == 0
    summary = (run.parent / "none" / "summary.md").read_text(encoding="utf-8")
    assert ("0 of the final solutions (each training once) are chemically accurate, so accurate.csv holds its "
            "header only.") in summary, summary


def test_failures_chart_without_failures_keeps_its_labels_on_the_axes(run, tmp_path):
    _, fig = plots.plot_failures(tables.failures(analyse([run])), tmp_path)
    ax = fig.axes[0]
    renderer = fig.canvas.get_renderer()
    box = ax.get_window_extent(renderer)
    labels = [t for t in ax.texts if "/" in t.get_text()]
    assert [t.get_text() for t in labels] == ["0/4", "0/4", "0/4"]
    for label in labels:
        extent = label.get_window_extent(renderer)
        assert box.x0 <= extent.x0 and extent.x1 <= box.x1, (label.get_text(), extent, box)


def test_help_is_plain_text():
    done = subprocess.run([str(BIN / "hpo-report"), "--help"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0 and "RUN_DIR" in done.stdout
    assert "``" not in done.stdout, done.stdout
