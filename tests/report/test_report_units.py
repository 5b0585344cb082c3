"""Every number of a report (and of hpo-run's progress line) carries its objective's unit.

A review found the hypervolume table and CSV, the hypervolume figure's reference point,
the front's accuracy legend, the parallel plot's caption and hpo-run's "best energy_rmse
0.0179" without units.  Real runs of hpo-run (ZDT1 through the function trainer), with
the objectives of a potential: energy in eV/atom, force in eV/A or without a unit.
"""

from __future__ import annotations

import csv
import html
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cli_testutil import OBJECTIVES, write_spec, zdt_spec

from dnnp_hpo.report.cli import main as hpo_report_main

BIN = Path(sys.executable).parent
UNITLESS_FORCE = [OBJECTIVES[0], {"name": "force_rmse"}]


def run_and_report(cwd: Path, name: str, objectives: list[dict]) -> tuple[str, Path]:
    """hpo-run's stdout and the report directory of a small real run (reported in this
    process: the report's files are the subject, not its console script)."""
    spec = write_spec(cwd / f"{name}.yaml", zdt_spec(cwd / name, pop_size=4, generations=1, objectives=objectives))
    run = subprocess.run([str(BIN / "hpo-run"), str(spec)], cwd=cwd, capture_output=True, text=True,
                         timeout=120, check=False)
    assert run.returncode == 0, run.stderr
    return run.stdout, report(cwd / name)


def report(run: Path) -> Path:
    assert hpo_report_main([str(run)]) == 0
    return run / "report"


@pytest.fixture(scope="module")
def runs(tmp_path_factory, potential_run):
    if not (BIN / "hpo-report").exists():
        pytest.skip("hpo-report is not installed next to this interpreter (pip install -e .)")
    cwd = tmp_path_factory.mktemp("units")
    stdout, run = potential_run  # the objectives OBJECTIVES, the run as run_and_report makes it (conftest.py)
    return {"units": (stdout, report(shutil.copytree(run, cwd / "units"))),
            "mixed": run_and_report(cwd, "mixed", UNITLESS_FORCE)}


def svg_text(path: Path) -> str:
    return html.unescape(path.read_text(encoding="utf-8"))


def test_progress_line_gives_the_best_values_in_their_units(runs):
    stdout, _ = runs["units"]
    assert re.search(r"best energy_rmse [0-9.e+-]+ eV/atom, best force_rmse [0-9.e+-]+ eV/A$", stdout, re.MULTILINE), stdout
    stdout, _ = runs["mixed"]
    assert re.search(r"best energy_rmse [0-9.e+-]+ eV/atom, best force_rmse [0-9.e+-]+$", stdout, re.MULTILINE), stdout


def test_hypervolume_csv_names_the_units_of_its_numbers(runs):
    _, out = runs["units"]
    with open(out / "hypervolume.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["series", "generation", "hypervolume", "reference energy_rmse (eV/atom)",
                             "reference force_rmse (eV/A)", "hypervolume unit"]
    assert {r["hypervolume unit"] for r in rows} == {"eV/atom x eV/A"}
    _, out = runs["mixed"]
    with open(out / "hypervolume.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    # no unit for energy x a unitless force: "eV/atom" alone would misname it
    assert "reference force_rmse" in rows[0] and {r["hypervolume unit"] for r in rows} == {""}


def test_summary_hypervolume_table_and_reference_carry_units(runs):
    _, out = runs["units"]
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "| generation | units (eV/atom x eV/A) |" in summary
    assert re.search(r"reference point \(energy_rmse = [0-9.e+-]+ eV/atom, force_rmse = [0-9.e+-]+ eV/A\)", summary)
    _, out = runs["mixed"]
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "| generation | mixed |" in summary
    assert re.search(r"reference point \(energy_rmse = [0-9.e+-]+ eV/atom, force_rmse = [0-9.e+-]+\)", summary)


def test_figures_give_limits_and_reference_point_in_units(runs):
    _, out = runs["units"]
    front = svg_text(out / "front.svg")
    assert "chemical accuracy (energy_rmse <= 0.004 eV/atom)" in front
    assert "chemical accuracy (force_rmse <= 0.04 eV/A)" in front
    hypervolume = svg_text(out / "hypervolume.svg")
    title = re.search(r"Hypervolume per generation \(reference point ([^)]*)\)", hypervolume)
    assert title and re.fullmatch(r"[0-9.e+-]+ eV/atom, [0-9.e+-]+ eV/A", title.group(1)), title
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert "chemically accurate: energy_rmse <= 0.004 eV/atom, force_rmse <= 0.04 eV/A;" in summary  # parallel
    assert re.search(r"Reference point: [0-9.e+-]+ eV/atom, [0-9.e+-]+ eV/A \(", summary)  # hypervolume caption
    _, out = runs["mixed"]
    title = re.search(r"reference point ([^)]*)\)", svg_text(out / "hypervolume.svg"))
    assert title and re.fullmatch(r"[0-9.e+-]+ eV/atom, [0-9.e+-]+", title.group(1)), title
    assert "hypervolume of the population" in svg_text(out / "hypervolume.svg")
    assert "hypervolume of the population (" not in svg_text(out / "hypervolume.svg")  # force has no unit
