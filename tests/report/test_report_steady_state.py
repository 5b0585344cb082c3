"""hpo-report of real nsga2-async runs: Figure 1 and the per-generation tables say nothing false.

In a steady-state run a "generation" g is a snapshot of the population after
(g + 1) x pop_size insertions, and a birth is labelled with the generation it was bred
in: some births labelled g are still training when snapshot g is taken (they are inserted
later and may join a later population), and snapshot 0 can hold a generation-1 offspring
while a generation-0 genome is still in flight.  Such births are not "evaluated, not
selected".  What snapshot g had inserted is checked here independently of the report's
own reading (the births sent out minus the pending ones, from the snapshot's state):
from the journal's recording order, whose first ``inserted`` finished evaluations are
the ones inserted (each result is recorded as it is taken for insertion; an infeasible
birth is recorded when sent out and taken before any training's result).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import attrs
import pytest

from dnnp_hpo.journal import Journal
from dnnp_hpo.report import build_report, plots
from dnnp_hpo.report.data import analyse, valid

BIN = Path(sys.executable).parent
POP, BIRTHS = 8, 46  # snapshots after 8, 16, ..., 40 and (the last, partial) 46 insertions
SPACE = "\n".join(f"  x{i}: {{type: float, init: [0.0, 1.0], sigma: 0.1}}" for i in range(5))
SPEC = f"""
name: steady-report
seed: 5
space:
{SPACE}
constraints: ["x1 < 0.8"]  # a fifth of generation 0 infeasible
objectives: [{{name: f1}}, {{name: f2}}]
trainer: {{plugin: function, callable: "dnnp_hpo.problems:zdt1"}}
optimizer: {{plugin: nsga2-async, pop_size: {POP}, max_births: {BIRTHS}}}
launcher: {{plugin: dask, workers: 2}}
"""


@pytest.fixture(scope="module")
def steady_run(tmp_path_factory) -> Path:
    if not (BIN / "hpo-run").exists():
        pytest.skip("hpo-run is not installed next to this interpreter (pip install -e .)")
    cwd = tmp_path_factory.mktemp("steady")
    (cwd / "spec.yaml").write_text(SPEC)
    done = subprocess.run([str(BIN / "hpo-run"), "spec.yaml", "--set", "run_dir=run"], cwd=cwd,
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    return cwd / "run"


def inserted_by_snapshot(run: Path) -> dict[int, set[str]]:
    """generation -> uuids inserted into the population by its snapshot, from the journal's
    recording order and each snapshot's count of insertions."""
    with Journal.of(run, readonly=True) as journal:
        order = [e.trial.uuid for e in journal.evaluations(recorded=True)]
        states = dict(journal.db.execute("SELECT generation, state FROM checkpoints").fetchall())
    return {g: set(order[:json.loads(state)["inserted"]]) for g, state in states.items()}


def points(solutions) -> list[tuple[float, float]]:
    return sorted((s.fitness[0], s.fitness[1]) for s in solutions)


def drawn(ax, label: str) -> list[tuple[float, float]]:
    found = [c for c in ax.collections if c.get_label() == label]
    return sorted(tuple(float(v) for v in xy) for c in found for xy in c.get_offsets())


GREY = "evaluated, not selected"
IN_FLIGHT = "born in it, still in flight at the snapshot (inserted later)"


def test_births_in_flight_at_a_snapshot_are_not_drawn_as_thrown_away(steady_run, tmp_path):
    inserted = inserted_by_snapshot(steady_run)
    analysis = analyse([steady_run])
    (run,) = analysis.runs
    assert sorted(run.populations) == sorted(inserted) == [0, 1, 2, 3, 4, 5]
    caption, fig = plots.plot_generations(analysis, tmp_path)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    in_flight_total = joined_later = 0
    grey, in_flight, counts = {}, {}, []
    for g, ax in zip(sorted(run.populations), panels):
        population = {m.evaluation.trial.uuid for m in run.populations[g]}
        assert population <= inserted[g], "the recording order does not give what a snapshot inserted"
        born = [s for s in analysis.evaluated(g) if s.valid]
        thrown = [s for s in born if s.uuid in inserted[g] and s.uuid not in population]
        waiting = [s for s in born if s.uuid not in inserted[g]]
        in_flight_total += len(waiting)
        joined_later += sum(1 for s in waiting
                            if any(s.uuid in {m.evaluation.trial.uuid for m in run.populations[h]}
                                   for h in run.populations if h > g))
        grey[g] = (drawn(ax, GREY), points(thrown))
        in_flight[g] = (drawn(ax, IN_FLIGHT), points(waiting))
        assert drawn(ax, "population after selection") == points(
            [s for s in analysis.population(g) if s.valid])
        counts.append(f"{len(analysis.evaluated(g))} born, "
                      f"{sum(1 for s in analysis.evaluated(g) if s.uuid not in inserted[g])} in flight, ")
    assert all(drawn == expected for drawn, expected in grey.values()), f"grey is not what selection threw away: {grey}"
    assert all(drawn == expected for drawn, expected in in_flight.values()), f"births in flight: {in_flight}"
    assert [ax.get_title().splitlines()[1][:len(c)] for ax, c in zip(panels, counts)] == counts
    # two workers: at nearly every snapshot but the last a birth of that generation is still training
    assert in_flight_total >= 1, "no successful birth was in flight at a snapshot: the test shows nothing"
    assert [ax.get_title().splitlines()[0] for ax in panels] == [
        *[f"generation {g} (after {8 * (g + 1)} evaluations)" for g in range(5)],
        "generation 5 (after 46 evaluations, partial)"]
    assert "the evaluations born in that generation (grey)" not in caption
    assert "the last, 5, is partial (46 evaluations of the 48 of a full one)" in caption
    print(f"{in_flight_total} births in flight at their generation's snapshot, {joined_later} joined later")


def test_summary_names_the_partial_snapshot_and_what_a_generation_is(steady_run, tmp_path):
    build_report([steady_run], tmp_path / "report")
    summary = (tmp_path / "report" / "summary.md").read_text()
    assert "| 5 (partial snapshot) |" in summary  # the hypervolume table's last row
    assert "generation g is the population after (g + 1) x pop_size evaluations (8, 16, 24, 32, ..., 46)" in summary
    assert "may still be in flight when snapshot g is taken" in summary
    # five snapshots are all listed, with no "..." for none left out
    analysis = analyse([steady_run])
    run = analysis.runs[0]
    five = attrs.evolve(run, snapshots={g: run.snapshots[g] for g in range(5)})
    note = attrs.evolve(analysis, runs=(five,)).snapshot_note()
    assert "evaluations (8, 16, 24, 32, 40)." in note, note


def test_merged_with_a_generational_run_only_steady_state_births_are_in_flight(steady_run, tmp_path,
                                                                             zdt1_function_run):
    # configs/zdt1-function.yaml with pop_size POP, generations 0 to 2 (conftest.py), copied
    assert POP == 8
    generational = shutil.copytree(zdt1_function_run, tmp_path / "gen")
    inserted = inserted_by_snapshot(steady_run)
    analysis = analyse([steady_run, generational])
    _, fig = plots.plot_generations(analysis, tmp_path)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title()]
    steady, gen = analysis.runs
    for g, ax in zip(analysis.generations, panels):
        kept = {s.uuid for s in analysis.population(g)}
        mine = [e for e in steady.evaluations if e.trial.generation == g and valid(e)]
        theirs = [e for e in gen.evaluations if e.trial.generation == g and valid(e)] if g in gen.populations else []
        thrown = [e for e in mine if e.trial.uuid in inserted[g] and e.trial.uuid not in kept]
        thrown += [e for e in theirs if e.trial.uuid not in kept]  # every generational birth competed
        waiting = [e for e in mine if e.trial.uuid not in inserted[g]]
        assert drawn(ax, GREY) == sorted(tuple(e.fitness) for e in thrown), g
        assert drawn(ax, IN_FLIGHT) == sorted(tuple(e.fitness) for e in waiting), g
    # the hypervolume table names the run whose snapshot is partial, not every column's
    build_report([steady_run, generational], tmp_path / "merged")
    assert "| 5 (partial snapshot of run) |" in (tmp_path / "merged" / "summary.md").read_text()


def test_a_run_stopped_between_snapshots_is_reported_up_to_its_last_one(steady_run, tmp_path):
    """The run as a driver killed after snapshot 3 would have left it: the births sent out
    after that snapshot are trained but judged by no recorded population, so the report
    leaves them out (they moved the default reference point and the failures table)."""
    import shutil
    import sqlite3

    run = shutil.copytree(steady_run, tmp_path / "stopped")
    with sqlite3.connect(run / "journal.sqlite") as db:
        last = db.execute("SELECT max(generation) FROM checkpoints").fetchone()[0]
        for table in ("populations", "checkpoints"):
            db.execute(f"DELETE FROM {table} WHERE generation > 3")
        db.execute("DELETE FROM meta WHERE key = 'finished'")
        sent = json.loads(db.execute("SELECT state FROM checkpoints WHERE generation = 3").fetchone()[0])["core.births"]
        births = [b for (b,) in db.execute("SELECT birth_id FROM evaluations WHERE status != 'interrupted'")]
    assert last > 3 and max(births) >= sent  # there is something to leave out
    analysis = analyse([run])
    reported = sorted(s.evaluation.trial.birth_id for s in analysis.all_evaluations())
    assert reported == sorted(b for b in births if b < sent)
    assert analysis.runs[0].later == sum(1 for b in births if b >= sent)


def test_any_optimizer_recording_the_snapshot_keys_is_read_as_steady_state(steady_run, tmp_path):
    """hpo-report knows a steady-state run by the keys its optimizer records with each
    generation (docs/plugins.md), not by the optimizer's name: a third-party optimizer
    that records them gets the same snapshots; without them the run reads as generational."""
    import shutil

    from dnnp_hpo.journal import RESOLVED, SPEC

    (original,) = analyse([steady_run]).runs
    renamed = tmp_path / "renamed"
    shutil.copytree(steady_run, renamed)
    with Journal.of(renamed) as journal:
        for key in (SPEC, RESOLVED):
            value = journal.meta(key)
            value["optimizer"]["plugin"] = "someone-elses-steady-state"
            journal.set_meta(key, value)
    (run,) = analyse([renamed]).runs
    assert run.spec["optimizer"]["plugin"] == "someone-elses-steady-state"
    assert run.snapshots == original.snapshots and len(run.snapshots) == 6

    with Journal.of(renamed) as journal, journal.transaction() as db:
        for g, state in db.execute("SELECT generation, state FROM checkpoints").fetchall():
            state = json.loads(state)
            del state["pending"]
            db.execute("UPDATE checkpoints SET state = ? WHERE generation = ?", (json.dumps(state), g))
    assert analyse([renamed]).runs[0].snapshots == {}
