"""Observer plugin: ``individuals.csv`` and ``pop.csv`` in the run directory.

``individuals.csv`` gets one row per evaluation, appended the moment it finishes;
``pop.csv`` gets the survivors of every generation with their rank and crowding
distance (the files the paper's scripts wrote).  See docs/outputs.md for the columns.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from dnnp_hpo.errors import RecordsFailed
from dnnp_hpo.evaluation import Evaluation, Member, Trial
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.journal import Journal
from dnnp_hpo.run import RunContext

INDIVIDUALS = "individuals.csv"
POPULATION = "pop.csv"


def individual_columns(run: RunContext) -> list[str]:
    return [
        "uuid", "birth_id", "generation", *run.space.names, "status", "reason",
        "start_eval_time", "stop_eval_time", "hostname", "pid", *run.objective_names, "seed",
    ]


def individual_row(evaluation: Evaluation) -> list[Any]:
    trial = evaluation.trial
    return [
        trial.uuid, trial.birth_id, trial.generation, *trial.params.values(),
        evaluation.status, evaluation.reason, repr(evaluation.start), repr(evaluation.stop),
        evaluation.hostname, evaluation.pid, *map(repr, evaluation.fitness), trial.seed,
    ]


def _append(path: Path, rows: Sequence[Sequence[Any]]) -> None:
    try:
        with open(path, "a", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(rows)
    except OSError as exc:  # the disk full, the directory made read-only: rebuilt on resume
        raise RecordsFailed(path, exc) from None


def export(run: RunContext, journal: Journal) -> None:
    """Write both files afresh from the journal (they are exports of it)."""
    columns = individual_columns(run)
    for name in (INDIVIDUALS, POPULATION):
        try:
            (run.run_dir / name).unlink(missing_ok=True)
        except OSError as exc:
            raise RecordsFailed(run.run_dir / name, exc) from None
    evaluations = journal.evaluations()
    _append(run.run_dir / INDIVIDUALS, [columns, *map(individual_row, evaluations)])
    _rows[run.run_dir] = {evaluation.trial.uuid for evaluation in evaluations}
    _append(run.run_dir / POPULATION, [["pop_generation", *columns, "rank", "distance"]])
    _written.pop(run.run_dir, None)
    for generation in journal.generations():
        dnnp_hpo_generation_finished(run, generation, journal.population(generation))


@hookimpl
def dnnp_hpo_run_started(run: RunContext) -> None:
    # On resume the files may lack the rows of the interrupted generation's last
    # moments, or hold rows the journal never committed: rebuild them from the journal.
    with Journal.of(run.run_dir, readonly=True) as journal:
        export(run, journal)


@hookimpl
def dnnp_hpo_evaluation_finished(run: RunContext, evaluation: Evaluation) -> None:
    _append(run.run_dir / INDIVIDUALS, [individual_row(evaluation)])
    _rows.setdefault(run.run_dir, set()).add(evaluation.trial.uuid)


@hookimpl
def dnnp_hpo_evaluation_interrupted(run: RunContext, trial: Trial, rerun: Trial) -> None:
    # A finished record the resumed search set aside (it bred the birth anew: --force with
    # another seed, say) is no longer one of the run's evaluations; the journal marks it
    # interrupted, and its row, written when the run started, goes.  A trial that was
    # still running has no row, and the file is not read at all: a resume sets aside every
    # evaluation in flight, and reading the whole file for each took seconds (helper-89:
    # 100 in flight over 20,000 rows, 6.9 s with the workers idle).
    rows = _rows.get(run.run_dir)
    if rows is None or trial.uuid in rows:
        _drop_rows(run.run_dir / INDIVIDUALS, trial.uuid)
        if rows is not None:
            rows.discard(trial.uuid)


#: the generations written to each run's pop.csv (by this process: rebuilt at run start)
_written: dict[Path, set[int]] = {}
#: the uuids of each run's rows in individuals.csv (by this process: rebuilt at run start)
_rows: dict[Path, set[str]] = {}


def _drop_rows(path: Path, first: str) -> None:
    """Take the rows whose first field is ``first`` out of ``path`` (rewritten whole, then
    renamed; left as it is when it has none)."""
    try:
        with open(path, newline="", encoding="utf-8") as handle:
            rows = list(csv.reader(handle))
        kept = [row for row in rows if row[:1] != [first]]
        if len(kept) == len(rows):
            return
        partial = path.with_name(f".{path.name}.partial")
        with open(partial, "w", newline="", encoding="utf-8") as handle:
            csv.writer(handle).writerows(kept)
        partial.replace(path)
    except OSError as exc:
        raise RecordsFailed(path, exc) from None


@hookimpl
def dnnp_hpo_generation_finished(run: RunContext, generation: int, population: Sequence[Member]) -> None:
    written = _written.setdefault(run.run_dir, set())
    if generation in written:
        # A population recorded again, as the journal replaces it: the last snapshot of a
        # steady-state run that stopped between two, taken again when a larger budget
        # extends it.  Its rows are replaced, not written twice.
        _drop_rows(run.run_dir / POPULATION, str(generation))
    _append(run.run_dir / POPULATION, [
        [generation, *individual_row(m.evaluation), m.rank, repr(m.distance)] for m in population
    ])
    written.add(generation)
