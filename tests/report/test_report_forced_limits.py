"""hpo-report judges chemical accuracy with the limits of the run's latest session.

A run resumed with --force and new report.chemical_accuracy limits printed its front
table with the new limits, while hpo-report read the first session's spec from the
journal and judged by the old ones: the two disagreed on the same run (a review's).
Real hpo-run (function trainer, local Dask) and hpo-report.
"""

from __future__ import annotations

import csv
import sqlite3
import subprocess
import sys
from pathlib import Path

from dnnp_hpo.report.cli import main as hpo_report_main

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[2]


def hpo_run(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    argv = [str(BIN / "hpo-run"), str(REPO / "configs" / "zdt1-function.yaml")]
    for assignment in ("run_dir=run", "optimizer.pop_size=6", "optimizer.generations=1", "launcher.workers=1"):
        argv += ["--set", assignment]
    return subprocess.run(argv + list(args), cwd=cwd, capture_output=True, text=True, timeout=180, check=False,
                          env={"COLUMNS": "250", "PATH": str(BIN)})


def test_a_forced_resume_with_new_limits_is_reported_with_them(tmp_path: Path) -> None:
    first = hpo_run(tmp_path, "--set", "report.chemical_accuracy.f1=0.9")
    assert first.returncode == 0, first.stderr
    # killed after its last generation was recorded, before it was marked finished
    with sqlite3.connect(tmp_path / "run" / "journal.sqlite") as db:
        db.execute("delete from meta where key = 'finished'")
    resumed = hpo_run(tmp_path, "--set", "report.chemical_accuracy.f1=0.2", "--force")
    assert resumed.returncode == 0, resumed.stderr
    assert "chemically accurate: f1 <= 0.2" in resumed.stdout, resumed.stdout
    # the front table's rows: "", #, x0..x6, f1, f2, accurate, ""
    table = [[c.strip() for c in line.split("│")] for line in resumed.stdout.splitlines()
             if line.startswith("│") and line.split("│")[1].strip().isdigit()]
    said_accurate = {cells[-4] for cells in table if cells[-2] == "yes"}
    assert said_accurate and len(said_accurate) < len(table), resumed.stdout  # 0.2 parts the front

    assert hpo_report_main([str(tmp_path / "run")]) == 0  # in this process: its files are the subject
    with open(tmp_path / "run" / "report" / "accurate.csv", newline="", encoding="utf-8") as handle:
        accurate = [float(row["f1"]) for row in csv.DictReader(handle)]
    assert accurate and max(accurate) <= 0.2, accurate  # not the first session's 0.9
    assert said_accurate <= {f"{f1:.4g}" for f1 in accurate}
    assert "f1 <= 0.2" in (tmp_path / "run" / "report" / "summary.md").read_text()
