"""Metrics a trainer records beside the objectives and the runtime (DeePMD's
sel_shortfall) in hpo-report's tables: a column each, named apart from the tables' own
columns, NaN written as such and blank only where a training recorded none."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

from hpo_testutil import run_cli, write_spec, zdt_spec

from dnnp_hpo.journal import Journal

BIN = Path(sys.executable).parent


def test_recorded_metrics_have_columns_of_their_own(tmp_path: Path) -> None:
    spec = zdt_spec(tmp_path / "run", pop_size=8, generations=1, callable_="hpo_testfuncs:zdt1_with_odd_metrics")
    spec["objectives"] = [{"name": "f1", "unit": "eV/atom"}, {"name": "f2", "unit": "eV/A"}]
    spec["report"] = {"chemical_accuracy": {"f1": 10.0, "f2": 10.0}}  # every solution accurate: Table 3 picks
    run = run_cli(BIN / "hpo-run", str(write_spec(tmp_path / "spec.yaml", spec)), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    report = run_cli(BIN / "hpo-report", str(tmp_path / "run"), cwd=tmp_path)
    assert report.returncode == 0, report.stderr
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        cut = {e.trial.uuid: e.metrics.get("cut") for e in journal.evaluations()}

    with open(tmp_path / "run" / "report" / "final.csv", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        rows = [dict(zip(header, row)) for row in reader]
    assert len(header) == len(set(header)), header  # a metric named uuid had repeated the column
    assert header.count("uuid") == 1 and "uuid (metric)" in header
    assert rows and all(r["uuid"] in cut for r in rows)  # the training's, not the metric's 1.0
    assert all(r["uuid (metric)"] == "1.0" and r["x1 (metric)"] == "2.0" and r["spread"] == "nan" for r in rows)
    assert all(r["cut"] == ("" if cut[r["uuid"]] is None else "7.0") for r in rows)
    assert {r["cut"] for r in rows} == {"", "7.0"}, rows  # both kinds in the final population

    summary = (tmp_path / "run" / "report" / "summary.md").read_text()
    for section in ("(paper, Table 2)", "## Chemical accuracy", "(paper, Table 3)"):
        table = summary.split(section)[1].split("\n## ")[0]
        assert "cut" in table and "spread" in table and "uuid (metric)" in table, (section, table)
    picks = summary.split("(paper, Table 3)")[1].split("\n## ")[0]
    assert "| spread | nan |" in picks, picks  # NaN said, not blank as if not recorded

    # hpo-run's own front table has them too (it had the runtime alone, so a front of
    # models whose neighbour lists DeePMD-kit cut looked sound until hpo-report)
    lines = run.stdout.splitlines()
    head = [line for line in lines if line.startswith("┃")]
    heads = [cell.strip() for cell in head[-1].split("┃")[1:-1]] if head else []  # a header's last line
    assert heads[-5:] == ["cut", "spread", "uuid", "x1 (metric)", "accurate"], run.stdout
    cells = [[cell.strip() for cell in line.split("│")[1:-1]] for line in lines
             if line.startswith("│") and line.split("│")[1].strip().isdigit()]
    front = {f"{float(r['f1 (eV/atom)']):.4g}": r for r in rows if r["on_front"] == "True"}
    assert cells and sorted(row[5] for row in cells) == sorted(front), (run.stdout, front)  # column 5: f1
    for row in cells:
        assert row[-5:-1] == [front[row[5]]["cut"].removesuffix(".0"), "nan", "1", "2"], row
    assert {row[-5] for row in cells} == {"", "7"}, run.stdout  # blank where none was recorded
