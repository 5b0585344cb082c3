"""hpo-report on runs that are not as tidy as a finished run on a free disk (a review's).

R3: a report that cannot be written was an internal error (exit 4); it is one line naming
the file, exit 2, as for a report directory that cannot be created.
R4: a live run's records were read in several transactions: a generation the driver
committed between two reads gave a population whose members were not among the evaluations.
R5: generations.png with a last row partly filled had no x tick labels nor x label over the
empty slots.
R6: a damaged meta ``report_settings`` gave a TypeError traceback.
R2: after a --force resume that changed the objectives' units, hpo-run judged accuracy in the
new units and hpo-report in the first session's.

Real hpo-run runs (the function trainer, local Dask), real journals and real matplotlib.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import attrs
import pytest
from cli_testutil import write_spec, zdt_spec

from dnnp_hpo.evaluation import Member
from dnnp_hpo.journal import FINISHED, Journal
from dnnp_hpo.report import build_report, summary
from dnnp_hpo.report.cli import main as hpo_report_main
from dnnp_hpo.report.data import analyse
from dnnp_hpo.report.plots import plot_generations

BIN = Path(sys.executable).parent
GENERATIONS = 5  #: six panels in generations.png: four columns, the second row half filled
#: the search's report block: a limit quoted, as hpo-run takes it (read as 0.5)
QUOTED_LIMIT = {"chemical_accuracy": {"f1": "0.5"}}


def hpo_run(cwd: Path, spec: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "hpo-run"), str(spec), *args], cwd=cwd, capture_output=True, text=True,
                          timeout=300, check=False, env={"COLUMNS": "250", "PATH": str(BIN)})


def hpo_report(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / "hpo-report"), *map(str, args)], capture_output=True, text=True,
                          timeout=300, check=False, **kwargs)


@pytest.fixture(scope="module")
def search(tmp_path_factory) -> Path:
    """A finished real run: ZDT1, four per generation, generations 0 to GENERATIONS, with
    the report block QUOTED_LIMIT."""
    cwd = tmp_path_factory.mktemp("search")
    spec = write_spec(cwd / "spec.yaml", zdt_spec(cwd / "run", pop_size=4, generations=GENERATIONS,
                                                  report=QUOTED_LIMIT))
    done = hpo_run(cwd, spec)
    assert done.returncode == 0, done.stderr
    return cwd / "run"


def copied(run: Path, to: Path) -> Path:
    shutil.copytree(run, to)
    return to


# -- R3: a report that cannot be written ---------------------------------------------------


def _small_files_only() -> None:
    """In the child: files may grow to 20 kB (a CSV does not reach it, a PNG does): a
    write past it fails with EFBIG, as on a full disk (Python ignores SIGXFSZ)."""
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_a_figure_that_cannot_be_written_is_one_line_naming_it(search: Path, tmp_path: Path) -> None:
    """A real write failure (the file size limit, which holds for root as well, where chmod
    would not stop a write): hpo-report's first large file is front.png."""
    run = copied(search, tmp_path / "run")
    done = hpo_report(run, preexec_fn=_small_files_only)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr, done.stderr
    assert done.stderr.splitlines()[-1] == (f"hpo-report: {run / 'report' / 'front.png'}: cannot write the report "
                                            f"({os.strerror(errno.EFBIG)}): "
                                            "choose another --out"), done.stderr


def test_a_table_that_cannot_be_written_is_one_line_naming_it(search: Path, tmp_path: Path, monkeypatch,
                                                               capsys) -> None:
    """The disk full when the CSV tables are written: ENOSPC injected into the one open of
    final.csv (the figures before it are written for real)."""
    run = copied(search, tmp_path / "run")
    real_open = open

    def open_on_a_full_disk(path, *args, **kwargs):
        if Path(path).name == "final.csv":
            raise OSError(errno.ENOSPC, "No space left on device")  # as write() says it, without a name
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(summary, "open", open_on_a_full_disk, raising=False)
    assert hpo_report_main([str(run)]) == 2
    err = capsys.readouterr().err
    assert err == (f"hpo-report: {run / 'report' / 'final.csv'}: cannot write the report (No space left on device): "
                   "choose another --out\n")


# -- R4: one snapshot of a live run's journal ----------------------------------------------


def _next_generation(driver: Journal, generation: int) -> None:
    """What a live driver commits: ``generation``'s offspring (copies of the last
    population's, under new uuids and birth ids), then its population and state."""
    last = driver.checkpoint()
    births = 1 + max(e.trial.birth_id for e in driver.evaluations())
    members = []
    for i, member in enumerate(last.population):
        trial = attrs.evolve(member.evaluation.trial, uuid=f"later-{i}", birth_id=births + i, generation=generation)
        evaluation = attrs.evolve(member.evaluation, trial=trial)
        driver.finished(evaluation)
        members.append(Member(evaluation, member.rank, member.distance))
    driver.generation_finished(generation, members, last.state)


def test_a_generation_committed_while_the_report_reads_is_left_out(search: Path, tmp_path: Path,
                                                                   monkeypatch) -> None:
    """The driver commits a generation right after the report read the evaluations (the
    read is wrapped: no race, the same interleaving every time): the report is of the
    journal as it was when its reading began, every population member among its evaluations."""
    run = copied(search, tmp_path / "run")
    committed = []
    with Journal.of(run) as driver:  # the live driver: its -wal open beside the journal
        driver.set_meta(FINISHED, False)
        last = driver.generations()[-1]
        before = {e.trial.uuid for e in driver.evaluations()}
        read = Journal.evaluations

        def evaluations_then_a_generation(self, *args, **kwargs):
            out = read(self, *args, **kwargs)
            if self.readonly and not committed:
                _next_generation(driver, last + 1)
                committed.append(last + 1)
            return out

        monkeypatch.setattr(Journal, "evaluations", evaluations_then_a_generation)
        report = build_report([run], tmp_path / "out")
        monkeypatch.undo()
        assert driver.generations()[-1] == last + 1  # committed, for any reader after the report
    assert committed
    data = report.analysis.runs[0]
    assert sorted(data.populations) == list(range(last + 1))
    assert {e.trial.uuid for e in data.evaluations} == before
    assert all(m.evaluation.trial.uuid in before for population in data.populations.values() for m in population)
    with open(tmp_path / "out" / "final.csv", newline="", encoding="utf-8") as handle:
        assert {row["uuid"] for row in csv.DictReader(handle)} == {
            m.evaluation.trial.uuid for m in data.populations[last]}


# -- R5: x labels over the empty slots of generations.png ----------------------------------


def test_every_column_of_generations_has_x_tick_labels_and_label(search: Path, tmp_path: Path) -> None:
    _, fig = plot_generations(analyse([search]), tmp_path)  # drawn: saved as PNG and SVG
    axes = [ax for ax in fig.axes if ax.get_subplotspec() is not None]
    grid = {(ax.get_subplotspec().rowspan.start, ax.get_subplotspec().colspan.start): ax for ax in axes}
    rows, cols = 1 + max(r for r, _ in grid), 1 + max(c for _, c in grid)
    assert (rows, cols) == (2, 4) and sum(ax.get_visible() for ax in axes) == GENERATIONS + 1
    for column in range(cols):
        lowest = max((grid[row, column] for row in range(rows) if grid[row, column].get_visible()),
                     key=lambda ax: ax.get_subplotspec().rowspan.start)
        shown = [t.get_text() for t in lowest.get_xticklabels() if t.get_visible() and t.get_text()]
        assert shown, f"column {column}: no x tick labels"
        assert lowest.get_xlabel() == "f1", f"column {column}"
    for row in range(rows - 1):  # above a panel: shared, not repeated
        for column in range(cols):
            if grid[row + 1, column].get_visible():
                assert grid[row, column].get_xlabel() == ""


# -- R6: a damaged meta report_settings ----------------------------------------------------


#: (meta key, damaged value, what the line says of it)
DAMAGED_METAS = [
    ("report_settings", {"chemical_accuracy": {"f1": None}},
     "meta 'report_settings': chemical_accuracy.f1 is 'null', not a positive limit"),
    ("report_settings", {"chemical_accuracy": {"f2": -0.1}},
     "meta 'report_settings': chemical_accuracy.f2 is '-0.1', not a positive limit"),
    ("report_settings", {"chemical_accuracy": {"f1": "tiny"}},
     "meta 'report_settings': chemical_accuracy.f1 is '\"tiny\"', not a positive limit"),
    ("report_settings", {"chemical_accuracy": {"f1": True}},
     "meta 'report_settings': chemical_accuracy.f1 is 'true', not a positive limit"),
    ("report_settings", {"chemical_accuracy": [0.1, 0.2]},
     "meta 'report_settings': chemical_accuracy is not a mapping but '[0.1, 0.2]'"),
    ("report_settings", [], "meta 'report_settings': its value is not a mapping but '[]'"),
    ("objectives", [{"name": "f1"}],
     "meta 'objectives' is not a list of objectives (name and unit) but '[{\"name\": \"f1\"}]'"),
]


def damaged(search: Path, to: Path, key: str, value: object) -> Path:
    """A copy of ``search`` whose meta ``key`` holds ``value``."""
    run = copied(search, to)
    with sqlite3.connect(run / "journal.sqlite") as db:
        db.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", (key, json.dumps(value)))
    db.close()
    return run


def test_a_damaged_meta_of_the_report_is_one_line_and_exit_2(search: Path, tmp_path: Path) -> None:
    """End to end, the console script: one line on stderr, exit 2 (the other damages of
    DAMAGED_METAS, through the same main, below)."""
    key, value, said = DAMAGED_METAS[0]
    run = damaged(search, tmp_path / "run", key, value)
    done = hpo_report(run)
    assert done.returncode == 2, done.stderr
    assert done.stderr == f"hpo-report: {run / 'journal.sqlite'}: damaged journal: {said}\n"


@pytest.mark.parametrize(("key", "value", "said"), DAMAGED_METAS)
def test_a_damaged_meta_of_the_report_is_one_line_naming_the_key(search: Path, tmp_path: Path, capsys, key: str,
                                                                  value: object, said: str) -> None:
    run = damaged(search, tmp_path / "run", key, value)
    assert hpo_report_main([str(run)]) == 2
    assert capsys.readouterr().err == f"hpo-report: {run / 'journal.sqlite'}: damaged journal: {said}\n"


def test_a_damaged_limit_in_the_spec_of_an_older_journal_is_one_line(search: Path, tmp_path: Path) -> None:
    """A journal from before report_settings was recorded: the limits are the spec's."""
    run = copied(search, tmp_path / "run")
    with sqlite3.connect(run / "journal.sqlite") as db:
        spec = json.loads(db.execute("SELECT value FROM meta WHERE key = 'spec'").fetchone()[0])
        spec["report"] = {"chemical_accuracy": {"f1": 0}}
        db.execute("UPDATE meta SET value = ? WHERE key = 'spec'", (json.dumps(spec),))
        db.execute("DELETE FROM meta WHERE key IN ('report_settings', 'objectives')")
    db.close()
    done = hpo_report(run)
    assert done.returncode == 2, done.stderr
    assert done.stderr == (f"hpo-report: {run / 'journal.sqlite'}: damaged journal: meta 'spec': "
                           "report.chemical_accuracy.f1 is '0', not a positive limit\n")


def test_a_quoted_limit_the_spec_check_took_is_reported(search: Path, tmp_path: Path) -> None:
    """hpo-run takes ``f1: "0.5"`` (read as 0.5) and records the block as written: the
    damaged-journal check first refused such runs, old journals too (helper-67's review).
    The search was run with that block (QUOTED_LIMIT)."""
    run = copied(search, tmp_path / "run")
    with Journal.of(run, readonly=True) as journal:
        assert journal.meta("spec")["report"] == QUOTED_LIMIT  # as written
    assert hpo_report_main([str(run)]) == 0
    assert "f1 <= 0.5" in (run / "report" / "summary.md").read_text()


# -- R2: the units of the latest session ---------------------------------------------------


def _units(energy: str, force: str) -> list[dict[str, str]]:
    return [{"name": "f1", "unit": energy}, {"name": "f2", "unit": force}]


def test_a_forced_resume_with_new_units_is_reported_in_them(tmp_path: Path) -> None:
    """eV/atom to meV/atom: ZDT1's values (0 to a few) are accurate under 4 meV/atom and 40
    meV/A, hardly any under 0.004 eV/atom: hpo-run's front table and the report must agree."""
    first = write_spec(tmp_path / "ev.yaml", zdt_spec(tmp_path / "run", pop_size=6, generations=1,
                                                      objectives=_units("eV/atom", "eV/A")))
    done = hpo_run(tmp_path, first)
    assert done.returncode == 0, done.stderr
    # killed after its last generation was recorded, before it was marked finished
    with sqlite3.connect(tmp_path / "run" / "journal.sqlite") as db:
        db.execute("DELETE FROM meta WHERE key = 'finished'")
    db.close()
    second = write_spec(tmp_path / "mev.yaml", zdt_spec(tmp_path / "run", pop_size=6, generations=1,
                                                        objectives=_units("meV/atom", "meV/A")))
    resumed = hpo_run(tmp_path, second, "--force")
    assert resumed.returncode == 0, resumed.stderr
    assert "chemically accurate: f1 <= 4 meV/atom, f2 <= 40 meV/A" in resumed.stdout, resumed.stdout
    # the front table's rows: "", #, x0..x3, f1, f2, accurate, ""
    table = [[c.strip() for c in line.split("│")] for line in resumed.stdout.splitlines()
             if line.startswith("│") and line.split("│")[1].strip().isdigit()]
    said = sorted(float(cells[-4]) for cells in table if cells[-2] == "yes")
    assert said, resumed.stdout

    assert hpo_report_main([str(tmp_path / "run")]) == 0
    with open(tmp_path / "run" / "report" / "front.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert "f1 (meV/atom)" in rows[0], rows[0]
    accurate = sorted(float(row["f1 (meV/atom)"]) for row in rows if row["chemically_accurate"] == "True")
    assert [f"{v:.4g}" for v in accurate] == [f"{v:.4g}" for v in said]
    assert "f1 <= 4 meV/atom" in (tmp_path / "run" / "report" / "summary.md").read_text(encoding="utf-8")
