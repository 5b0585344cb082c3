"""Loading one or more run directories for ``hpo-report``, and merging them.

Everything is read from each run's journal (``RUN_DIR/journal.sqlite``): the spec as
run (meta ``spec``), every finished evaluation, the population after every
generation and, for a steady-state run (``nsga2-async``), what each of its snapshots
had inserted (:class:`Snapshot`).  Nothing in the run directory is written.
"""

from __future__ import annotations

import errno
import math
import os
import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from dnnp_hpo.evaluation import MAXINT, RUNTIME, Evaluation, Member
from dnnp_hpo.fingerprint import DataDigest, recorded_digests
from dnnp_hpo.front import accuracy_limits, chemically_accurate, normal_unit, unlimited
from dnnp_hpo.journal import (
    DATA_DIGESTS,
    FILENAME,
    FINISHED,
    OBJECTIVES,
    RESOLVED,
    SPEC,
    Journal,
    resolved_path,
)
from dnnp_hpo.journalcheck import EmptyJournal, NotAJournal, not_a_file
from dnnp_hpo.journalschema import INTERRUPTED


class ReportError(Exception):
    """Bad input for a report: shown to the user as one line."""


@contextmanager
def writing(path: Path) -> Iterator[None]:
    """ReportError (one line, exit 2, as for a report directory that cannot be created)
    naming ``path`` for what the machine does to a write of the report: a read-only copy
    of a run with its report/ in it, the disk full.  It was an internal error (exit 4)."""
    try:
        yield
    except OSError as exc:
        raise ReportError(f"{path}: cannot write the report ({exc.strerror or exc}): "
                          "choose another --out") from None


@attrs.frozen
class Objective:
    name: str
    unit: str = ""

    @property
    def label(self) -> str:
        return f"{self.name} ({self.unit})" if self.unit else self.name


@attrs.frozen
class Solution:
    """One evaluation as the report sees it, with the run it belongs to."""

    run: str  #: the run's label
    evaluation: Evaluation
    runtime: float  #: seconds: metrics["runtime"] if the trainer measured it, else stop - start

    @property
    def fitness(self) -> tuple[float, ...]:
        return self.evaluation.fitness

    @property
    def valid(self) -> bool:
        """Successful, with finite objective values below MAXINT (plottable)."""
        return valid(self.evaluation)

    @property
    def uuid(self) -> str:
        return self.evaluation.trial.uuid


def valid(evaluation: Evaluation) -> bool:
    return evaluation.ok and bool(evaluation.fitness) and all(
        math.isfinite(v) and v < MAXINT for v in evaluation.fitness)


def runtime_of(evaluation: Evaluation) -> float:
    value = evaluation.metrics.get(RUNTIME)
    if value is not None and math.isfinite(value):
        return float(value)
    if evaluation.start and evaluation.stop:
        return float(evaluation.stop - evaluation.start)
    return math.nan


#: runtimes are shown in minutes, as in the paper's Figure 3 and Table 3, once a final
#: solution trained this long (seconds)
MINUTES_FROM_S = 600.0


def runtime_unit(final: Sequence[Solution]) -> tuple[str, float]:
    """The unit summary.md and Figure 3 give runtimes in, and its seconds: one for the whole
    report, read off its valid final solutions, so that no table or figure of it says
    seconds where another says minutes (the CSVs keep seconds)."""
    minutes = any(s.valid and math.isfinite(s.runtime) and s.runtime >= MINUTES_FROM_S for s in final)
    return ("min", 60.0) if minutes else ("s", 1.0)


@attrs.frozen
class Snapshot:
    """A "generation" of a steady-state run (``nsga2-async``): its population after
    ``inserted`` evaluations were inserted, read from the state recorded with it.

    Births are labelled with the generation they were bred in, not the one whose
    population they competed for: a birth labelled ``g`` can still be training when
    snapshot ``g`` is taken (it is inserted later, and may join a later population),
    and snapshot 0 can hold a generation-1 offspring while a generation-0 genome is
    still in flight.  Every birth sent out is either inserted or still pending, so the
    births inserted by this snapshot are those sent out by then (birth ids below
    ``births``, the birth counter recorded with it) that it does not list as
    ``pending``.  That holds for infeasible births (recorded when sent out, inserted
    when next taken) and across resumes (a pending birth is sent again under its id).
    """

    inserted: int  #: evaluations inserted into the population when it was taken
    births: int  #: births sent out by then: birth ids 0 .. births - 1
    pending: frozenset[int]  #: birth ids sent out and not inserted yet (in flight)
    full: int | None  #: (g + 1) x pop_size, the insertions of a full snapshot (None: unknown)

    def holds_insertion_of(self, evaluation: Evaluation) -> bool:
        """Whether ``evaluation`` had been inserted into the population by this snapshot."""
        birth = evaluation.trial.birth_id
        return birth < self.births and birth not in self.pending

    @property
    def partial(self) -> bool:
        """The last snapshot of a budget that is not a multiple of pop_size: fewer insertions."""
        return self.full is not None and self.inserted < self.full


#: keys of a steady-state optimizer's recorded state (plugins/nsga2/asynchronous.py; core's birth counter)
STEADY_STATE_KEYS = ("inserted", "pending", "core.births")


def _snapshots(states: Mapping[int, Any], generations: Sequence[int], pop_size: int | None) -> dict[int, Snapshot]:
    """The snapshots of a steady-state run; empty for any other (a generational run's state
    has no insertion count: there every birth of generation g is inserted before selection)."""
    out: dict[int, Snapshot] = {}
    for g in generations:
        try:
            state = states[g]
            if not isinstance(state, Mapping) or not all(k in state for k in STEADY_STATE_KEYS):
                return {}
            out[g] = Snapshot(int(state["inserted"]), int(state["core.births"]),
                              frozenset(int(p[0]) for p in state["pending"]),
                              (g + 1) * pop_size if pop_size else None)
        except (KeyError, ValueError, TypeError, IndexError):
            return {}
    return out


def _pop_size(resolved: Any, spec: Mapping[str, Any]) -> int | None:
    """The optimizer's pop_size as run (defaults filled in), else as the spec gives it."""
    for source in (resolved, spec):
        block = source.get("optimizer") if isinstance(source, Mapping) else None
        size = block.get("pop_size") if isinstance(block, Mapping) else None
        if isinstance(size, int) and not isinstance(size, bool) and size > 0:
            return size
    return None


@attrs.frozen
class RunData:
    """What one run directory's journal holds."""

    path: Path
    label: str
    spec: dict[str, Any]
    objectives: tuple[Objective, ...]
    evaluations: tuple[Evaluation, ...]  #: finished (any status), in birth order
    populations: dict[int, list[Member]]  #: generation -> survivors
    interrupted: int  #: evaluations re-run under a new uuid after a resume
    finished: bool  #: the driver recorded the end of the run
    #: generation -> its snapshot, for a steady-state run (nsga2-async) only; empty otherwise
    snapshots: dict[int, Snapshot] = attrs.field(factory=dict)
    #: evaluations of a live or stopped run that came after its last recorded generation,
    #: left out of the report (``evaluations`` holds the others)
    later: int = 0
    #: what each data path held when the run started (() for a run from before they were recorded)
    data: tuple[DataDigest | None, ...] = ()

    @property
    def last_generation(self) -> int:
        return max(self.populations)

    @property
    def steady_state(self) -> bool:
        return bool(self.snapshots)

    @property
    def replicates(self) -> bool:
        """A run of the ``replicates`` optimizer: its one generation trains a search's front
        again, so it is no generation 0 of a search to merge with theirs."""
        block = self.spec.get("optimizer")
        return isinstance(block, Mapping) and block.get("plugin") == "replicates"

    def solutions(self, evaluations: Sequence[Evaluation]) -> list[Solution]:
        return [Solution(self.label, e, runtime_of(e)) for e in evaluations]


def _objectives(spec: Mapping[str, Any], evaluations: Sequence[Evaluation], where: Path) -> tuple[Objective, ...]:
    listed = spec.get("objectives")
    if isinstance(listed, list) and listed:
        out = []
        for item in listed:
            if isinstance(item, Mapping) and "name" in item:
                out.append(Objective(str(item["name"]), str(item.get("unit") or "")))
            else:
                raise ReportError(f"{where}: the spec in the journal has an objective without a name: {item!r}")
        return tuple(out)
    sizes = {len(e.fitness) for e in evaluations if e.fitness}
    if len(sizes) != 1:
        raise ReportError(f"{where}: the journal holds no spec naming the objectives")
    return tuple(Objective(f"objective_{i + 1}") for i in range(sizes.pop()))


def _runs_near(path: Path, shown: int = 3) -> str:
    """Where the run directories are, said after "not a run directory": the one ``path``
    is inside (``RUN_DIR/evals``), else those right below it (``runs/``, where a spec's
    ``name`` puts them); "" if neither."""
    try:
        children = sorted(path.iterdir())
    except OSError:
        children = []
    below = [child for child in children if not_a_file(child / FILENAME) is None]
    if below:
        names = ", ".join(str(child) for child in below[:shown])
        more = f" and {len(below) - shown} more" if len(below) > shown else ""
        return f" (run directories in it: {names}{more})"
    for above in list(path.resolve().parents)[:3]:
        if not_a_file(above / FILENAME) is None:
            return f" (it is inside the run directory {above}: give that)"
    return ""


def load_run(path: Path | str, label: str | None = None) -> RunData:
    """Read one run directory; ReportError (one line) if it is not a usable run."""
    path = Path(path)
    try:
        os.stat(path)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ReportError(f"{path}: a symbolic link that loops (it points, in the end, back to itself), "
                              "not a run directory") from None
    if not path.exists():
        raise ReportError(f"{path}: no such directory")
    if not path.is_dir():
        raise ReportError(f"{path}: not a directory (give a run directory)")
    problem = not_a_file(path / FILENAME)
    if problem == "no such file":
        raise ReportError(f"{path}: no {FILENAME} here, so not a dnnp-hpo run directory{_runs_near(path)}")
    if problem:
        raise ReportError(f"{path / FILENAME}: {problem}, so not a run's journal")
    try:
        # Read-only: the report writes nothing into the run's files, reads a run copied
        # to a read-only place, and reads a live run up to its last commit.
        journal = Journal.of(path, readonly=True)
    except EmptyJournal:
        raise ReportError(f"{path}: the journal records no finished generation yet") from None
    except NotAJournal as exc:
        raise ReportError(f"{exc}") from None
    except sqlite3.Error as exc:
        raise ReportError(f"{path / FILENAME}: cannot open the journal ({exc})") from None
    with journal:
        try:
            # One read transaction: a live run's driver may commit a generation between two
            # reads, and a population read after it would name evaluations read before it.
            with journal.snapshot():
                journal.check()  # every record, once: a damaged one is one line, not a traceback
                spec = journal.meta(SPEC, {}) or {}
                latest_report = journal.report_settings()
                latest_objectives = journal.objectives()
                evaluations = tuple(journal.evaluations())
                populations = {g: journal.population(g) for g in journal.generations()}
                interrupted = len(journal.evaluations(INTERRUPTED))
                in_flight = 0 if populations else len(journal.running())  # for the refusal below alone
                finished = bool(journal.meta(FINISHED, False))
                resolved = journal.meta(RESOLVED, None)
                data = recorded_digests(journal.meta(DATA_DIGESTS, None))
                states = journal.states()
        except NotAJournal as exc:  # DamagedJournal: says which journal and what
            raise ReportError(str(exc)) from None
        except sqlite3.Error as exc:
            raise ReportError(f"{path / FILENAME}: cannot read the journal ({exc})") from None
    if not isinstance(spec, Mapping):
        raise ReportError(f"{path / FILENAME}: the spec recorded in the journal is not a mapping")
    if not populations:
        optimizer = spec.get("optimizer")  # the spec is a mapping (above); its optimizer may not be
        size = optimizer.get("pop_size") if isinstance(optimizer, Mapping) else None
        first = f", the first once {size} have returned" if isinstance(size, int) else ""
        # "0 evaluations recorded" read as a run that had sent nothing out (helper-120)
        sent = f", {in_flight} sent out and not returned" if in_flight else ""
        raise ReportError(f"{path}: the journal records no finished generation yet ({len(evaluations)} "
                          f"evaluation{'s' * (len(evaluations) != 1)} recorded{sent}; a report reads a generation's "
                          f"population{first})")
    if latest_report != (spec.get("report") or {}):
        spec = {**spec, "report": latest_report}  # the latest session's limits, as its front table showed
    objectives = _objectives(spec, evaluations, path)
    if latest_objectives is not None and [(o.name, o.unit) for o in objectives] != latest_objectives:
        # the latest session's units (a --force resume may change them; not the names, which
        # a resume refuses to), as its front table showed
        if [name for name, _ in latest_objectives] != [o.name for o in objectives]:
            raise ReportError(f"{path / FILENAME}: damaged journal: meta {OBJECTIVES!r} names the objectives "
                              f"{', '.join(name for name, _ in latest_objectives)}, its spec "
                              f"{', '.join(o.name for o in objectives)}")
        objectives = tuple(Objective(name, unit) for name, unit in latest_objectives)
        spec = {**spec, "objectives": [{"name": name, "unit": unit} for name, unit in latest_objectives]}
    snapshots = _snapshots(states, sorted(populations), _pop_size(resolved, spec))
    reported = tuple(e for e in evaluations if _recorded_by(e, max(populations), snapshots))
    return RunData(path=path, label=label or path.name, spec=dict(spec), objectives=objectives,
                   evaluations=reported, populations=populations, interrupted=interrupted,
                   finished=finished, snapshots=snapshots, later=len(evaluations) - len(reported), data=data)


def _recorded_by(evaluation: Evaluation, last: int, snapshots: Mapping[int, Snapshot]) -> bool:
    """Whether ``evaluation`` belongs to the run up to its last recorded generation ``last``:
    born in it or before (generational), sent out before its snapshot was taken (steady
    state, whose snapshot 0 can hold offspring labelled 1).  A live or stopped run is
    reported up to there, so its figures, failures and reference point do not depend on
    offspring that no recorded population judged."""
    if snapshots:
        return evaluation.trial.birth_id < snapshots[last].births
    return evaluation.trial.generation <= last


def _other_data(first: RunData, run: RunData) -> bool:
    """Whether both runs recorded what their data held, and it differs (in order)."""
    ours, theirs = [d.sha256 if d else None for d in first.data], [d.sha256 if d else None for d in run.data]
    return bool(ours and theirs) and ours != theirs


def _labels(paths: Sequence[Path]) -> list[str]:
    names = [resolved_path(p).name or str(p) for p in paths]
    if len(set(names)) == len(names):
        return names
    return [f"{i + 1}:{name}" for i, name in enumerate(names)]


@attrs.frozen
class Parameter:
    name: str
    choices: tuple[Any, ...] | None = None  #: the choice type's values, in spec order
    log: bool = False


@attrs.frozen
class Analysis:
    """One or more runs of the same objectives, ready for the tables and plots."""

    runs: tuple[RunData, ...]
    objectives: tuple[Objective, ...]
    parameters: tuple[Parameter, ...]
    thresholds: dict[str, float]  #: objective -> chemical-accuracy limit (may be empty)
    threshold_source: str  #: where the thresholds came from, for the summary
    notes: tuple[str, ...]
    #: metrics the trainer recorded beside the objectives and the runtime (DeePMD's
    #: sel_shortfall): a column each in the solution tables, blank where a training has none
    recorded: tuple[str, ...] = ()

    @property
    def names(self) -> list[str]:
        return [o.name for o in self.objectives]

    @property
    def runtime_apart(self) -> bool:
        """Whether the runtime needs a column (and a Table 3 pick) of its own: not when it
        is one of the objectives, which has them already."""
        return RUNTIME not in self.names

    @property
    def by_generation(self) -> tuple[RunData, ...]:
        """The runs Figure 1 and the failures by generation show: the searches.  A
        replicates run reported with them is left out (its generation 0, the retrainings
        of a final front, made the searches' generation 0 look converged); alone, it is
        shown."""
        return tuple(r for r in self.runs if not r.replicates) or self.runs

    @property
    def generations(self) -> list[int]:
        return sorted({g for r in self.by_generation for g in r.populations})

    def final(self) -> list[Solution]:
        """The aggregated last generations: each run's last population, run by run."""
        out: list[Solution] = []
        for run in self.runs:
            out += run.solutions([m.evaluation for m in run.populations[run.last_generation]])
        return out

    def population(self, generation: int) -> list[Solution]:
        """Survivors of ``generation`` in every run that reached it."""
        out: list[Solution] = []
        for run in self.by_generation:
            out += run.solutions([m.evaluation for m in run.populations.get(generation, [])])
        return out

    def evaluated(self, generation: int) -> list[Solution]:
        """Every evaluation born in ``generation`` (offspring; generation 0: the initial population)."""
        out: list[Solution] = []
        for run in self.by_generation:
            out += run.solutions([e for e in run.evaluations if e.trial.generation == generation])
        return out

    @property
    def steady_state(self) -> bool:
        """Whether any of the runs is steady-state (nsga2-async): its generations are snapshots."""
        return any(run.steady_state for run in self.runs)

    def panel(self, generation: int) -> tuple[list[Solution], list[Solution], set[str]]:
        """What Figure 1 shows of ``generation``: the evaluations born in it, the population,
        and the uuids of those born in it that were not inserted into the population yet
        when it was recorded (steady-state runs only; none in a generational run, whose
        offspring are all evaluated before selection).

        A steady-state run's births are left out of generations it recorded no snapshot of
        (a run killed before it): no population of its own says what became of them.
        """
        born: list[Solution] = []
        waiting: set[str] = set()
        for run in self.by_generation:
            here = [e for e in run.evaluations if e.trial.generation == generation]
            snapshot = run.snapshots.get(generation)
            if run.steady_state and snapshot is None:
                continue
            born += run.solutions(here)
            if snapshot is not None:
                waiting |= {e.trial.uuid for e in here if not snapshot.holds_insertion_of(e)}
        return born, self.population(generation), waiting

    def snapshot_note(self) -> str:
        """What a generation is in each steady-state run, the partial last snapshot named;
        empty when no run is steady-state."""
        parts = []
        for run in self.runs:
            if not run.steady_state:
                continue
            counts = [run.snapshots[g].inserted for g in sorted(run.snapshots)]
            last = max(run.snapshots)
            shown = ", ".join(str(c) for c in counts) if len(counts) <= 5 else (
                ", ".join(str(c) for c in counts[:4]) + f", ..., {counts[-1]}")
            partial = run.snapshots[last]
            parts.append(f"{run.label + ': ' if len(self.runs) > 1 else ''}generation g is the population after "
                         f"(g + 1) x pop_size evaluations ({shown})"
                         + (f"; the last, {last}, is partial ({partial.inserted} evaluations of the "
                            f"{partial.full} of a full one)" if partial.partial else ""))
        if not parts:
            return ""
        return ("Steady-state (nsga2-async) " + ("runs" if len(parts) > 1 else "run") + ": "
                + "; ".join(parts) + ".")

    def all_evaluations(self) -> list[Solution]:
        out: list[Solution] = []
        for run in self.runs:
            out += run.solutions(run.evaluations)
        return out

    def accurate(self, solution: Solution) -> bool | None:
        """Chemically accurate (None when there are no thresholds): hpo-run's rule
        (:func:`dnnp_hpo.front.chemically_accurate`), with the report's test of success
        (:func:`valid`) for the status ``ok``."""
        return chemically_accurate(solution.evaluation, self.names, self.thresholds, succeeded=solution.valid)

    def finite_values(self) -> np.ndarray:
        """Every valid evaluation's objective values, one row each."""
        rows = [s.fitness for s in self.all_evaluations() if s.valid]
        return np.array(rows, dtype=float).reshape(-1, len(self.objectives))


def _parameters(runs: Sequence[RunData]) -> tuple[Parameter, ...]:
    """The union of the runs' search parameters, in spec order (else params order)."""
    found: dict[str, Parameter] = {}
    for run in runs:
        space = run.spec.get("space")
        if isinstance(space, Mapping):
            for name, block in space.items():
                block = block if isinstance(block, Mapping) else {}
                choices = block.get("choices") if block.get("type") == "choice" else None
                found.setdefault(str(name), Parameter(
                    str(name), tuple(choices) if isinstance(choices, list) else None, bool(block.get("log", False))))
        for e in run.evaluations:
            for name in e.trial.params:
                found.setdefault(str(name), Parameter(str(name)))
    return tuple(found.values())


#: where a limit comes from, in the order the summary names them
_SPEC, _COMMAND_LINE = "report.chemical_accuracy in the spec", "--accuracy on the command line"
_DEFAULTS = "the paper's defaults for {}, its section 3.2"


def _limits(run: RunData, accuracy: Mapping[str, float] | None = None) -> tuple[dict[str, float], str]:
    """A run's chemical-accuracy limits (objective -> limit) and where they come from:
    ``accuracy`` (hpo-report's --accuracy), else the spec's, for the objectives they name,
    the paper's defaults for the units of the others (:func:`dnnp_hpo.front.accuracy_limits`)."""
    named = [(o.name, o.unit) for o in run.objectives]
    report = run.spec.get("report")
    in_spec = report.get("chemical_accuracy") if isinstance(report, Mapping) else None
    sources = {str(k): _SPEC for k in in_spec if str(k) in dict(named)} if isinstance(in_spec, Mapping) else {}
    given = {k: float(in_spec[k]) for k in sources}
    sources.update({k: _COMMAND_LINE for k in accuracy or {}})
    given.update(accuracy or {})
    thresholds = accuracy_limits(named, given)
    if not thresholds:
        return thresholds, ("no objective has a unit with a default limit; set report.chemical_accuracy in the "
                            "spec or pass --accuracy NAME=LIMIT")
    by_source: dict[str, list[str]] = {}
    for name in thresholds:
        by_source.setdefault(sources.get(name, _DEFAULTS), []).append(name)
    alone = len(by_source) == 1
    said = "; ".join(
        # the limits themselves are said beside it, in the objectives' units: the paper's
        # "4 meV/atom, 40 meV/A" here stood beside eV values, and beside a force limit
        # given on the command line
        (_DEFAULTS.format("these units" if alone else "the units of " + ", ".join(names)) if source == _DEFAULTS
         else source if alone else f"{source} for {', '.join(names)}")
        for source, names in by_source.items())
    return thresholds, "; ".join(part for part in (said, unlimited(named, thresholds)) if part)


#: spec keys that say where a run is: runs merged differ in them without a note
_PLACE = ("run_dir", "name")
#: spec keys that say what a genome trains: with one genome and training seed, runs that
#: agree in them (and in their data) trained the same model, whatever their optimizer,
#: budget or launcher
_TRAINING = ("space", "trainer", "constraints")
#: keys of those that say how a training is started or bred, not what it trains: a move
#: to a cluster edits the trainer's launch_prefix, env and time limit.  A parameter's
#: sigma and bounds steer mutation alone (generation 0 is drawn from init).
_HOW = {"trainer": ("launch_prefix", "env", "timeout_minutes"), "parameter": ("sigma", "bounds")}


def _same_training(a: RunData, b: RunData) -> bool:
    """Whether one genome and seed train the same model in both runs: their specs agree on
    what is trained, and so does their data (another trainer, data or callable with one
    seed is another training)."""
    def what(run: RunData) -> dict[str, Any]:
        spec = {k: run.spec.get(k) for k in _TRAINING}
        if isinstance(spec["trainer"], Mapping):
            trainer = {k: v for k, v in spec["trainer"].items() if k not in _HOW["trainer"]}
            paths, settings = trainer.get("paths"), trainer.get("settings")
            if isinstance(paths, list) and isinstance(settings, Mapping):
                # where the data are: their content is compared by its digests (_other_data)
                trainer["settings"] = {k: v for k, v in settings.items() if k not in paths}
            spec["trainer"] = trainer
        if isinstance(spec["space"], Mapping):
            spec["space"] = {name: {k: v for k, v in p.items() if k not in _HOW["parameter"]}
                             if isinstance(p, Mapping) else p for name, p in spec["space"].items()}
        return spec

    return what(a) == what(b) and not _other_data(a, b)


def _check_mergeable(first: RunData, run: RunData, seen: dict[Any, RunData]) -> None:
    """ReportError unless ``run`` can be merged with ``first`` (and the runs before it):
    the same objectives in the same units, and no evaluation of its own counted twice."""
    def described(r: RunData) -> str:
        return ", ".join(f"{o.name} [{o.unit}]" if o.unit else o.name for o in r.objectives)

    if [o.name for o in run.objectives] != [o.name for o in first.objectives]:
        raise ReportError(f"{run.path}: objectives {', '.join(o.name for o in run.objectives)} differ from "
                          f"{first.path}'s ({', '.join(o.name for o in first.objectives)}): runs to merge must "
                          "share them")
    if [normal_unit(o.unit) for o in run.objectives] != [normal_unit(o.unit) for o in first.objectives]:
        raise ReportError(f"{run.path}: objectives {described(run)} are in other units than {first.path}'s "
                          f"({described(first)}): report them separately")
    for e in run.evaluations:
        other = seen.get(e.trial.uuid)
        if other is not None:
            raise ReportError(f"{run.path}: evaluation {e.trial.uuid} is also in {other.path} (the same run "
                              "twice, or a copy of it): each evaluation would count twice")
        # A training is its genome and its seed: the same spec run twice with one seed
        # (the paper's five runs made by running one spec five times), or with one seed and
        # another budget or optimizer (generation 0 is the seed's), trains the same
        # candidates again under new uuids, and each would count twice, its spread "± 0".
        trained = (tuple(e.trial.genome), e.trial.seed)
        other = seen.get(trained)
        if other is not None and other is not run and _same_training(other, run):
            raise ReportError(f"{run.path}: birth {e.trial.birth_id} was trained with the same genome and seed "
                              f"in {other.path} (runs started with the same seed, {run.spec.get('seed', '?')}, "
                              "train the same candidates): each would count twice; run one again with another "
                              "seed (--set seed=N)")
        seen[e.trial.uuid] = seen[trained] = run


def analyse(paths: Sequence[Path | str], accuracy: Mapping[str, float] | None = None) -> Analysis:
    """Load and merge runs; ``accuracy`` (objective -> limit) overrides the spec's."""
    paths = [Path(p) for p in paths]
    if not paths:
        raise ReportError("give at least one run directory")
    runs = tuple(load_run(p, label) for p, label in zip(paths, _labels(paths)))
    first = runs[0]
    notes: list[str] = []
    seen: dict[Any, RunData] = {}  # uuid, and (genome, seed), -> the run that holds it
    for run in runs:
        _check_mergeable(first, run, seen)
        # replicates of one search differ in their seed by design: no note for it either
        differ = sorted(k for k in run.spec.keys() | first.spec.keys()
                        if k not in {"seed", *_PLACE} and run.spec.get(k) != first.spec.get(k))
        if differ:
            notes.append(f"{run.label}'s spec differs from {first.label}'s in: {', '.join(differ)}")
        if _other_data(first, run):
            # Its place may be the same (a dataset regenerated in place): its content is not.
            notes.append(f"{run.label} trained on other data than {first.label} (the content of its data paths "
                         "differs: see Training data); their errors are not comparable")
    replicates = [r.label for r in runs if r.replicates]
    if replicates and len(replicates) < len(runs):
        notes.append(f"Figure 1 and the failures by generation leave out {', '.join(replicates)}: a replicates run "
                     "trains a front again, and its generation 0 is no generation of a search")
    objectives = first.objectives
    names = [o.name for o in objectives]
    if accuracy:
        unknown = [k for k in accuracy if k not in names]
        if unknown:
            raise ReportError(f"--accuracy: {unknown[0]!r} is not an objective (objectives: {', '.join(names)})")
        for name, limit in accuracy.items():
            if not limit > 0:
                raise ReportError(f"--accuracy {name}: expected a positive limit, got {limit:g}")
    # Over each run's own limits: a limit given for one objective alone must not drop the
    # other's (a 0.5 eV/A force error would pass).
    thresholds, source = _limits(first, accuracy)
    for run in runs[1:]:
        own = _limits(run, accuracy)[0]
        if own != thresholds:
            raise ReportError(f"{run.path}: its chemical-accuracy limits ({own or 'none'}) differ "
                              f"from {first.path}'s ({thresholds or 'none'}): give the merged report its own "
                              "with --accuracy NAME=LIMIT for each objective")
    names = {o.name for o in objectives} | {RUNTIME}
    recorded = sorted({k for run in runs for e in run.evaluations for k in e.metrics} - names)
    return Analysis(runs=runs, objectives=objectives, parameters=_parameters(runs),
                    thresholds=thresholds, threshold_source=source, notes=tuple(notes), recorded=tuple(recorded))
