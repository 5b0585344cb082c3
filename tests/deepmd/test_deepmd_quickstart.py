"""End to end: ``hpo-run configs/quickstart.yaml`` (reduced) with real DeePMD-kit trainings
on a real local Dask cluster."""

from __future__ import annotations

import csv
import math
import shutil
import time
from pathlib import Path

import psutil
import pytest
from deepmd_testutil import QUICKSTART, VENV_BIN, run_exe

from dnnp_hpo.plugins.deepmd.lcurve import read_lcurve


def _processes_under(directory: Path) -> list[str]:
    """Processes still working in ``directory`` (a training that outlived its evaluation)."""
    found = []
    for proc in psutil.process_iter(["pid", "cwd", "cmdline"]):
        cwd = proc.info.get("cwd") or ""
        if cwd.startswith(str(directory)):
            found.append(" ".join(proc.info.get("cmdline") or []))
    return found


@pytest.mark.slow
def test_quickstart_end_to_end(tmp_path: Path, demo_data: Path) -> None:
    run_dir = tmp_path / "run"
    data = shutil.copytree(demo_data, tmp_path / "data")  # a copy: moved away at the end
    sets = [
        f"run_dir={run_dir}",
        f"trainer.settings.train_systems={data / 'train'}",
        f"trainer.settings.valid_systems={data / 'valid'}",
        "optimizer.pop_size=2", "optimizer.generations=1",  # a bred generation too
        "trainer.settings.numb_steps=40", "trainer.settings.disp_freq=20", "trainer.settings.decay_steps=20",
    ]
    argv = [str(VENV_BIN / "hpo-run"), str(QUICKSTART)]
    for assignment in sets:
        argv += ["--set", assignment]
    start = time.monotonic()
    # A wide virtual terminal so the front table prints whole numbers, not "0.0…".
    done = run_exe(argv, timeout=330, env={"COLUMNS": "250"})
    elapsed = time.monotonic() - start
    assert done.returncode == 0, done.stderr[-3000:]
    print(f"reduced quickstart (4 candidates, 40 steps): {elapsed:.0f} s")

    rows = list(csv.DictReader((run_dir / "individuals.csv").open()))
    assert len(rows) == 4
    trained = [r for r in rows if r["status"] != "infeasible"]
    assert trained, rows
    evals = sorted((run_dir / "evals").iterdir())
    assert {p.name for p in evals} == {r["uuid"] for r in trained}
    for directory in evals:
        assert {"input.json", "stdout.log", "stderr.log", "lcurve.out"} <= {p.name for p in directory.iterdir()}
        curve = read_lcurve(directory / "lcurve.out")
        assert curve.rows[-1, curve.columns.index("step")] == 40
    ok = [r for r in trained if r["status"] == "ok"]
    assert ok, [r["reason"] for r in trained]
    for r in ok:
        assert math.isfinite(float(r["energy_rmse"])) and math.isfinite(float(r["force_rmse"]))
    assert _processes_under(run_dir) == []

    # The final front: one table row per solution with finite objectives and a runtime.
    out = done.stdout
    assert "Pareto front of the final population" in out
    assert "energy_rmse" in out and "(eV/atom)" in out and "runtime" in out and "chemically" in out
    table_rows = [line for line in out.splitlines() if line.startswith("│") and line.split("│")[1].strip().isdigit()]
    assert table_rows, out
    for line in table_rows:
        cells = [c.strip() for c in line.strip("│").split("│")]
        energy, force, runtime = (float(c) for c in cells[8:11])
        assert all(math.isfinite(v) and v > 0 for v in (energy, force, runtime))
        assert cells[11] in {"yes", "no"}

    # The finished run is only read: its front is shown with its data gone (a run that is
    # to train refuses to start without them).
    data.rename(tmp_path / "data-moved")
    again = run_exe(argv, timeout=120, env={"COLUMNS": "250"})
    assert again.returncode == 0, again.stderr[-3000:]
    assert "Pareto front of the final population" in again.stdout
    assert "data path" not in again.stderr, again.stderr
