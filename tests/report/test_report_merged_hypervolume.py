"""The "all runs" hypervolume of a merged report combines, in each generation, the runs
that reached it, up to the longest run; a replicates run is left out of it (its one
generation trains a front again: it is no generation 0 of a search).

A review's merged report stopped the series at the shortest run's last generation.  Real
runs of hpo-run (ZDT1 through the function trainer) of 1 and 3 generations, and a
replicates run of the first.
"""

from __future__ import annotations

import csv
import functools
import subprocess
import sys
from pathlib import Path

import pytest
from cli_testutil import write_spec, zdt_spec

from dnnp_hpo.journal import Journal
from dnnp_hpo.report.cli import main as hpo_report_main
from dnnp_hpo.report.hypervolume import hypervolume

BIN = Path(sys.executable).parent
REFERENCE = (2.0, 12.0)  # beyond every ZDT1 value of x in [0, 1]^4 (f1 <= 1, f2 <= 10)


def hpo(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    return done


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """short (generations 0-1), long (0-3) and again (replicates of short) in one directory."""
    if not (BIN / "hpo-report").exists():
        pytest.skip("hpo-report is not installed next to this interpreter (pip install -e .)")
    cwd = tmp_path_factory.mktemp("merged")
    for name, generations, seed in (("short", 1, 1), ("long", 3, 2)):
        spec = write_spec(cwd / f"{name}.yaml", zdt_spec(cwd / name, pop_size=4, generations=generations, seed=seed))
        hpo("hpo-run", str(spec), cwd=cwd)
    hpo("hpo-run", str(cwd / "short.yaml"), "--set", f"run_dir={cwd / 'again'}", "--set", "seed=3",
        "--set", f"optimizer={{plugin: replicates, source: {cwd / 'short'}, seeds: 2}}", cwd=cwd)
    return cwd


def report_dir(cwd: Path, *names: str) -> Path:
    return cwd / ("report-" + "+".join(names))


@functools.cache  # one report of each combination for both tests
def merged(cwd: Path, *names: str) -> dict[tuple[str, int], float]:
    out = report_dir(cwd, *names)
    argv = [*(str(cwd / name) for name in names), "--out", str(out), f"--reference={REFERENCE[0]},{REFERENCE[1]}"]
    assert hpo_report_main(argv) == 0  # in this process: the numbers are the subject, not the console script
    with open(out / "hypervolume.csv", newline="", encoding="utf-8") as handle:
        return {(r["series"], int(r["generation"])): float(r["hypervolume"]) for r in csv.DictReader(handle)}


def population_points(run: Path, generation: int) -> list[tuple[float, ...]]:
    with Journal.of(run, readonly=True) as journal:
        return [m.evaluation.fitness for m in journal.population(generation) if m.evaluation.ok]


def test_all_runs_goes_on_to_the_longest_run(runs):
    hv = merged(runs, "short", "long")
    assert sorted(g for s, g in hv if s == "all runs") == [0, 1, 2, 3]
    for g in (0, 1):  # both runs reached them: their populations together
        points = population_points(runs / "short", g) + population_points(runs / "long", g)
        assert hv[("all runs", g)] == pytest.approx(hypervolume(points, REFERENCE))
    for g in (2, 3):  # only the long run did: the short one counts with its last population
        points = population_points(runs / "short", 1) + population_points(runs / "long", g)
        assert hv[("all runs", g)] == pytest.approx(hypervolume(points, REFERENCE))
    # so the merged line does not fall where the short run ended (it fell, then only
    # repeated the long run's own line)
    assert hv[("all runs", 2)] >= hv[("long", 2)]
    summary = (report_dir(runs, "short", "long") / "summary.md").read_text(encoding="utf-8")
    assert 'in "all runs", a run that ended at an earlier generation counts with its last population' in summary


def test_a_replicates_run_is_left_out_of_all_runs_and_that_is_said(runs):
    with_replicates = merged(runs, "short", "long", "again")
    without = merged(runs, "short", "long")
    assert {k: v for k, v in with_replicates.items() if k[0] == "all runs"} == {
        k: v for k, v in without.items() if k[0] == "all runs"}
    assert ("again", 0) in with_replicates  # its own series stays
    summary = (report_dir(runs, "short", "long", "again") / "summary.md").read_text(encoding="utf-8")
    assert '"all runs" leaves out again: a replicates run trains a front again' in summary
    # with one search left there is nothing to merge: no series that repeats the search's own
    alone = merged(runs, "short", "again")
    assert {s for s, _ in alone} == {"short", "again"}
    summary = (report_dir(runs, "short", "again") / "summary.md").read_text(encoding="utf-8")
    assert ('no "all runs" series: one search to merge beside again (a replicates run trains a front again, and its '
            "generation 0 is no generation of a search)") in summary


def failures_row(summary: str, generation: int) -> list[str]:
    """The cells of ``generation``'s row in the summary's "Failures per generation" table."""
    table = summary.split("\n## Failures per generation", 1)[1]
    for line in table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if cells[0] == str(generation):
            return cells
    raise AssertionError(f"no row for generation {generation} in:\n{table}")


def test_figure_1_and_the_failures_leave_a_replicates_run_out(runs):
    """Generation 0 of a merged report is the searches' initial populations, not also a
    replicates run's retrainings of a final front (which made it look converged)."""
    merged(runs, "short", "long", "again")
    summary = (report_dir(runs, "short", "long", "again") / "summary.md").read_text(encoding="utf-8")
    assert failures_row(summary, 0)[:2] == ["0", "8"]  # 4 + 4 initial individuals
    assert "Figure 1 and the failures by generation leave out again: a replicates run" in summary
    figure_1 = summary.split("### Objectives per generation", 1)[1].split("###", 1)[0]
    assert "all 2 runs together" in figure_1, figure_1  # its caption counted the run left out
    with Journal.of(runs / "again", readonly=True) as journal:
        retrained = len(journal.evaluations())
    assert retrained >= 2  # the replicates run did train: leaving it out is what is tested
    merged(runs, "again")  # alone, its one generation is what there is to show
    summary = (report_dir(runs, "again") / "summary.md").read_text(encoding="utf-8")
    assert failures_row(summary, 0)[:2] == ["0", str(retrained)]
    assert "leave out" not in summary
