"""The numbers of a report: front, chemical accuracy, Table 3 picks, hypervolume, failures.

Each function returns plain data (lists of rows); ``summary.py`` turns them into
markdown and CSV.
"""

from __future__ import annotations

import math
import sqlite3
import statistics
from collections import Counter
from collections.abc import Sequence

import attrs
import numpy as np

from dnnp_hpo.evaluation import OK, STATUSES, Member, shared_reason
from dnnp_hpo.front import pareto_front
from dnnp_hpo.journal import Journal
from dnnp_hpo.runlock import driver_holds

from .data import Analysis, RunData, Solution, valid
from .hypervolume import default_reference, hypervolume


def running(run: RunData) -> str | None:
    """``run``'s evaluations its journal records as sent out and not finished, in words:
    of a live run, those training now; of one whose driver stopped, those it left in
    flight (a resume harvests or re-runs them), which its lock tells apart (the words were
    "running or left in flight by a stopped driver" either way, helper-127) where the file
    system has locks.  None if there are none, or the journal cannot be read again."""
    try:
        with Journal.of(run.path, readonly=True) as journal:
            count = len(journal.running())
    except sqlite3.Error:  # NotAJournal too: it changed since it was loaded
        return None
    if not count:
        return None
    held = driver_holds(run.path)
    what = ("running (its driver is running)" if held else "left in flight by a stopped driver" if held is False
            else "running or left in flight by a stopped driver")
    return f"{counted(count, 'evaluation')} {what}"


def front(solutions: Sequence[Solution]) -> list[Solution]:
    """The exact Pareto front of ``solutions`` (valid ones, each training once), by objective 1."""
    candidates = [s for s in solutions if s.valid]
    by_uuid = {s.uuid: s for s in candidates}
    return [by_uuid[e.trial.uuid] for e in pareto_front([s.evaluation for s in candidates])]


def accurate_solutions(analysis: Analysis, solutions: Sequence[Solution]) -> list[Solution]:
    """The chemically accurate ones (each training once), sorted by the objectives."""
    if not analysis.thresholds:
        return []
    out = {s.uuid: s for s in solutions if analysis.accurate(s)}
    return sorted(out.values(), key=lambda s: (s.fitness, s.runtime, s.uuid))


def _runtime_key(s: Solution) -> float:
    return s.runtime if math.isfinite(s.runtime) else math.inf


def selection(analysis: Analysis, accurate: Sequence[Solution]) -> list[tuple[str, Solution]]:
    """Table 3: the accurate solution with the lowest value of each objective, and the fastest.

    Ties go to the lower values of the other objectives (in spec order), then runtime.
    """
    if not accurate:
        return []
    picks: list[tuple[str, Solution]] = []
    for i, objective in enumerate(analysis.objectives):
        best = min(accurate, key=lambda s, i=i: (s.fitness[i], s.fitness, _runtime_key(s), s.uuid))
        picks.append((f"lowest {objective.name}", best))
    if analysis.runtime_apart and any(math.isfinite(s.runtime) for s in accurate):
        best = min(accurate, key=lambda s: (_runtime_key(s), s.fitness, s.uuid))
        picks.append(("lowest runtime", best))
    return picks


def counted(n: int, noun: str, plural: str = "") -> str:
    """``n`` and the noun that agrees with it: "1 solution", "2 solutions"."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"


def with_unit(value: float, unit: str, spec: str = "g") -> str:
    """``value`` (formatted by ``spec``) followed by its unit, if it has one."""
    return f"{value:{spec}} {unit}" if unit else f"{value:{spec}}"


def volume_unit(units: Sequence[str]) -> str:
    """The unit of a hypervolume: the product of the objectives' units ("" unless every one
    has a unit: eV/A alone would misname f1 x force)."""
    return " x ".join(units) if all(units) else ""


@attrs.frozen
class Hypervolumes:
    reference: tuple[float, ...]
    reference_source: str
    #: (series, generation) -> hypervolume; series is a run label or "all runs"
    values: dict[tuple[str, int], float]
    series: tuple[str, ...]
    #: what the "all runs" series leaves out, or how it counts a run that ended earlier
    note: str = ""
    #: what makes every value 0 although some evaluation succeeded (a --reference that no
    #: solution beats); hpo-report also prints it on stderr
    warning: str = ""
    #: what to do about it (summary.md's words after the warning)
    advice: str = ""


MERGED = "all runs"


def _merged_note(analysis: Analysis, searches: Sequence[RunData]) -> str:
    """Why the "all runs" series leaves runs out (or is not drawn), if it does."""
    notes = []
    left_out = [r.label for r in analysis.runs if r.replicates]
    if len(analysis.runs) > 1 and left_out:
        why = ("a replicates run trains a front again, and its generation 0 is no generation of a search")
        if len(searches) < 2:
            # 'no "all runs" series: "all runs" leaves out ..., and one search is left' (helper-111)
            beside = "one search" if searches else "no search"
            note = (f'no "{MERGED}" series: {beside} to merge beside {", ".join(left_out)} ({why})')
        else:
            note = f'"{MERGED}" leaves out {", ".join(left_out)}: {why}'
        notes.append(note)
    if len(searches) > 1 and len({max(r.populations) for r in searches}) > 1:
        notes.append(f'in "{MERGED}", a run that ended at an earlier generation counts with its last population')
    return "; ".join(notes)


def _population_at(run: RunData, generation: int) -> Sequence[Member]:
    """The run's population at ``generation``, or at its last one before it (none before its first)."""
    reached = [g for g in run.populations if g <= generation]
    return run.populations[max(reached)] if reached else ()


def hypervolumes(analysis: Analysis, reference: Sequence[float] | None = None) -> Hypervolumes | None:
    """Hypervolume of every generation's population, per run (and merged for several runs)."""
    n = len(analysis.objectives)
    values = analysis.finite_values()  # every evaluation's, read once: for the default and the warning
    if reference is not None:
        ref = tuple(float(v) for v in reference)
        source = "--reference on the command line"
    else:
        if len(values) == 0:
            return None
        ref = tuple(float(v) for v in default_reference(values))
        flat = [o.name for o, low, high in zip(analysis.objectives, values.min(axis=0), values.max(axis=0))
                if low == high]
        source = ("the worst value of each objective over all successful evaluations, plus 10% of its range"
                  + (f" ({', '.join(flat)}: of its one value's size, 0.1 at 0)" if flat else ""))
    searches = [r for r in analysis.runs if not r.replicates]
    series = [r.label for r in analysis.runs]
    if len(searches) > 1:
        series.append(MERGED)
    out: dict[tuple[str, int], float] = {}
    note = _merged_note(analysis, searches)
    for run in analysis.runs:
        for g, members in sorted(run.populations.items()):
            points = [m.evaluation.fitness for m in members if valid(m.evaluation)]
            out[(run.label, g)] = hypervolume(np.array(points, dtype=float).reshape(-1, n), ref)
    if len(searches) > 1:
        # Each generation, up to the longest run's last: a run that ended earlier counts
        # with its last population (its result), else "all runs" fell where it ended,
        # and then only repeated the longer run's line.
        for g in sorted({g for r in searches for g in r.populations}):
            points = [m.evaluation.fitness for r in searches for m in _population_at(r, g)
                      if valid(m.evaluation)]
            out[(MERGED, g)] = hypervolume(np.array(points, dtype=float).reshape(-1, n), ref)
    warning = advice = ""
    if out and not any(out.values()) and len(values):
        point = ", ".join(with_unit(v, o.unit) for v, o in zip(ref, analysis.objectives))
        if np.all(values < np.asarray(ref), axis=1).any():
            # Solutions beat the point, and their boxes are below a float's smallest (values
            # near 1e-200): the reference is not at fault (a review's).
            warning = (f"every hypervolume is 0: the volume between the solutions and the reference point ({point}) "
                       "is smaller than a float holds")
            advice = "Report the objectives in a larger unit."
        else:
            warning = (f"no solution is better than the reference point ({point}) in every objective: every "
                       "hypervolume is 0")
            advice = "Give --reference a point worse than the solutions in every objective, or leave it out for the default."
    return Hypervolumes(ref, source, out, tuple(series), note, warning, advice)


@attrs.frozen
class FailureCounts:
    generations: tuple[int, ...]
    evaluated: dict[int, int]
    by_status: dict[tuple[int, str], int]  #: (generation, status) -> count, status != ok
    statuses: tuple[str, ...]  #: the failure statuses that occur, in core's order
    by_reason: list[tuple[str, str, dict[int, int]]]  #: (status, reason, generation -> count)


def failures(analysis: Analysis) -> FailureCounts:
    """Failed evaluations (every status but ok) per generation they were born in."""
    evaluations = [s for run in analysis.by_generation for s in run.solutions(run.evaluations)]
    generations = sorted({s.evaluation.trial.generation for s in evaluations} | set(analysis.generations))
    evaluated = Counter(s.evaluation.trial.generation for s in evaluations)
    by_status: Counter[tuple[int, str]] = Counter()
    reasons: dict[tuple[str, str], Counter[int]] = {}
    # A replicates run merged with searches stays out of the counts per generation (its
    # generation 0 is no search's) but not out of the reasons: named, they lose nothing.
    apart = [s for run in analysis.runs if run not in analysis.by_generation for s in run.solutions(run.evaluations)]
    for s, searched in [*((s, True) for s in evaluations), *((s, False) for s in apart)]:
        e = s.evaluation
        if e.status == OK and s.valid:
            continue
        status = e.status if e.status != OK else "invalid"
        reason = shared_reason(e) or "(no reason given)"
        if searched:
            by_status[(e.trial.generation, status)] += 1
        else:
            reason += f" (in {s.run}, a replicates run)"
        reasons.setdefault((status, reason), Counter())[e.trial.generation] += 1
    seen = {status for _, status in by_status}
    statuses = tuple(s for s in (*STATUSES, "invalid") if s in seen) + tuple(sorted(seen - {*STATUSES, "invalid"}))
    by_reason = sorted(((st, r, dict(c)) for (st, r), c in reasons.items()),
                       key=lambda row: (-sum(row[2].values()), row[0], row[1]))
    return FailureCounts(tuple(generations), dict(evaluated), dict(by_status), statuses, by_reason)


@attrs.frozen
class Repeated:
    """One candidate (genome) trained more than once: the spread of its results."""

    params: dict  #: its decoded hyperparameters
    trainings: int
    failed: int
    mean: tuple[float, ...]  #: per objective, over its successful trainings (NaN if none)
    sd: tuple[float, ...]  #: sample standard deviation (NaN with fewer than two)
    low: tuple[float, ...]
    high: tuple[float, ...]
    accurate: int | None  #: successful trainings within the limits (None without limits)


def repeated(analysis: Analysis) -> list[Repeated]:
    """Candidates with two or more trainings (``replicates``' seeds, or a genome bred
    again), by mean of the first objective: how far one training is from another."""
    groups: dict[tuple[float, ...], list[Solution]] = {}
    for s in analysis.all_evaluations():
        groups.setdefault(s.evaluation.trial.genome, []).append(s)
    out = []
    for group in groups.values():
        if len(group) < 2:
            continue
        values = np.array([s.fitness for s in group if s.valid], dtype=float).reshape(-1, len(analysis.objectives))
        n, none = len(values), (math.nan,) * values.shape[1]
        # statistics' exact sums: identical trainings have their value as mean and 0 as sd
        # (numpy's gave a mean below the minimum and an sd of 2.7e-19)
        columns = [[float(v) for v in column] for column in values.T]
        mean = tuple(statistics.mean(c) for c in columns) if n else none
        low, high = (tuple(float(v) for v in f(values, axis=0)) if n else none for f in (np.min, np.max))
        sd = tuple(statistics.stdev(c) for c in columns) if n > 1 else none
        accurate = (sum(bool(analysis.accurate(s)) for s in group if s.valid) if analysis.thresholds else None)
        out.append(Repeated(dict(group[0].evaluation.trial.params), len(group), len(group) - n,
                            mean, sd, low, high, accurate))
    return sorted(out, key=lambda r: (math.isnan(r.mean[0]), r.mean))
