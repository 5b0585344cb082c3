"""The whole plugin contract of dnnp-hpo.

A plugin is a module (or object) that implements some of the hooks below with
``@hookimpl``.  Plugins are found through the setuptools entry-point group
``dnnp_hpo``; the built-in ones (NSGA-II, the DeePMD-kit trainer, the Dask launcher,
the CSV records, the parameter types) are registered that way too, so a package
installed separately is picked up exactly like them::

    # pyproject.toml of a third-party package
    [project.entry-points.dnnp_hpo]
    mycode = "mycode_hpo.plugin"

Four kinds of named components are *registered* by hooks that return
``{name: class}``; the class is an ``attrs`` class whose fields are the keys the user
writes in the spec block that selects it (``trainer: {plugin: NAME, ...}``), so the
spec is validated once, with key paths, by cattrs.  The protocols they implement are
defined in this file too:

=================  ==============================  ===================================
spec block         registration hook               protocol of the registered class
=================  ==============================  ===================================
``space.<name>``   :func:`dnnp_hpo_parameter_types` :class:`ParameterType`
``trainer``        :func:`dnnp_hpo_trainers`        :class:`Trainer`
``launcher``       :func:`dnnp_hpo_launchers`       :class:`Launcher` (gives a :class:`Pool`)
``optimizer``      :func:`dnnp_hpo_optimizers`      :class:`Optimizer` (drives a :class:`Study`)
=================  ==============================  ===================================

*Observers* receive events (run started, evaluation started, finished or interrupted,
generation finished, run finished); the journal, the CSV records and the progress display
are observers.  Every observer hook is called on the driver process, in the order the
events happen; an observer must not raise for a healthy run.

A user's mistake is raised as :class:`dnnp_hpo.spec.Invalid` or
:class:`dnnp_hpo.errors.SpecError` (both carry the key at fault, relative to the block)
from a registered class's converters, validators and ``__attrs_post_init__``, and as
SpecError from ``prepare`` and ``render``: one line, exit 2.
Anything else a plugin raises on the driver is a bug: its traceback, then ``hpo-run:
internal error: ...``, exit 4.  A registration hook must return ``{name: attrs class}``;
a ``dnnp_hpo_*`` function that is no hook here, or lacks ``@hookimpl``, is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import pluggy

if TYPE_CHECKING:  # the data types live in their own modules; this file is the contract
    from dnnp_hpo.evaluation import Evaluation, Member, Trial
    from dnnp_hpo.journal import Checkpoint
    from dnnp_hpo.resume import Holdings
    from dnnp_hpo.run import RunContext

PROJECT = "dnnp_hpo"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


# --------------------------------------------------------------------------------------
# Protocols of the registered classes
# --------------------------------------------------------------------------------------


@runtime_checkable
class ParameterType(Protocol):
    """One search-space parameter: how its real-valued gene starts, moves and decodes.

    The genome is a real-valued vector, one gene per parameter (paper, section 2.2.1).
    Fields come from ``space.<name>`` minus ``type``.  All three numbers are in *gene*
    units: for a log-scaled float the gene is ``log10(value)``.
    """

    @property
    def gene_init(self) -> tuple[float, float]:
        """Interval from which the initial population draws the gene uniformly."""

    @property
    def gene_bounds(self) -> tuple[float, float]:
        """Hard bounds: mutation never takes the gene outside them."""

    @property
    def sigma(self) -> float | None:
        """Starting standard deviation of Gaussian mutation for this gene; ``None`` when
        not given (only ``variation: paper`` mutates by it, and it refuses ``None``)."""

    def decode(self, gene: float) -> Any:
        """The value a trainer sees (float, int, str, ...) for this gene."""

    # Optional: values: Sequence[Any] | None
    #     Every value decode() can give, for a type of few (a choice's choices); absent or
    #     None for a range.  Start-up then tries each one, in the constraints and in the
    #     trainer's renderings, where a range is tried at its ends and middle only.
    # Optional: value_range: tuple[float, float]
    #     The lowest and highest value decode() can give within gene_bounds (the built-in
    #     float and int have it).  The spec check reads it, or values, to refuse a
    #     constraint no candidate can meet, or constraints none meets together
    #     (dnnp_hpo.constraints.never_holds, none_together); a type with neither is not
    #     judged, and its constraints are left to the run.
    # Optional: init_warning: str | None
    #     What looks like a mistake in its ranges without being invalid (a choice's init
    #     range that leaves a choice out); start-up prints it on stderr as
    #     "hpo-run: warning: SPEC: space.<name>.init: <it>", and the run goes on.


@runtime_checkable
class Trainer(Protocol):
    """Trains one candidate and measures it.

    Fields come from the ``trainer:`` block minus ``plugin``.  The object returned by
    :meth:`prepare` is pickled (cloudpickle) and sent to the workers, so it must be
    picklable: plain data.
    """

    def prepare(self, run: RunContext) -> Trainer:
        """Check the settings against the run and return the trainer the workers get.

        Called once on the driver before anything is launched (also by ``--dry-run``).
        Raise :class:`dnnp_hpo.errors.SpecError` for a user mistake (a template
        placeholder that names no parameter, say): the user sees one line, exit 2.
        """

    def render(self, trial: Trial) -> str | None:
        """The input the training would get for ``trial`` (``--dry-run`` shows it).

        Raise :class:`~dnnp_hpo.errors.SpecError` if it cannot be rendered; return
        None when the trainer has no input file.
        """

    def train(self, trial: Trial) -> Mapping[str, float]:
        """Run the training of ``trial`` (on a worker) and return its metrics.

        The metrics are named (``energy_rmse``, ``force_rmse``, ``runtime``...); the
        spec's objectives pick their fitness among them by name and the rest are
        recorded too.  Raise :class:`dnnp_hpo.errors.TrainingFailed` with a status
        (``failed``, ``timeout``, ``error``) and a one-line reason when the training did not give
        a usable result; any other exception is recorded as status ``error``.  Either
        way the candidate gets the MAXINT fitness (paper, section 2.2.4) and the run
        goes on.  ``trial.workdir`` is this evaluation's own directory path, not yet
        created: create it with :func:`dnnp_hpo.evaluation.make_workdir` if needed.
        """

    # Optional: def harvest(self, trial: Trial) -> Mapping[str, float] | None
    #     Called on the driver when a run resumes, for a trial that was running when
    #     the driver died and whose worker left no outcome in its directory (core reads
    #     dnnp-hpo-evaluation.json first, whatever the trainer): the metrics of a training
    #     that finished on disk, or None to train it again in a new directory.
    # Also optional, on the prepared trainer (what prepare returns); core does without them:
    #   data_paths: Sequence[str]
    #     The data files and directories its trainings read, absolute.  Their content is
    #     digested when a run starts, and a resume on changed data is refused without --force.
    #   def input_digest(self) -> str | None
    #     A digest of what every rendered input shares: a template's text and
    #     placeholders, not where its file is (a run moved to a cluster still resumes).
    #     A resume after it changed (the template edited) is refused without --force.
    #   timeout_minutes: float (on the spec's trainer block)
    #     The longest one training may run; the Parsl launcher warns when a batch block's
    #     walltime is shorter.


@runtime_checkable
class Future(Protocol):
    """What :meth:`Pool.submit` returns (Dask and Parsl futures both fit)."""

    def done(self) -> bool:
        """Whether the task has finished (succeeded, failed or been given up): the Study
        polls it to take finished evaluations back in birth order."""

    def result(self) -> Any:
        """The function's return value; raises if the task was lost or failed."""


@runtime_checkable
class Pool(Protocol):
    """A connected execution engine: where evaluations run."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        """Schedule ``fn(*args)`` on a worker; never blocks for the result.

        The future needs ``done()`` and ``result()``.  When the engine gives the task up,
        ``result()`` raises: :class:`dnnp_hpo.errors.TaskGivenUp` whose message is the
        reason in the pool's own words, or any exception, recorded as ``Type: message``;
        either way the evaluation is recorded ``lost`` and the run goes on.  EngineLost
        from ``result()`` stops the run instead, the birth left in flight."""

    def as_completed(self, futures: Iterable[Future], timeout: float | None = None) -> Iterator[Future]:
        """Yield the given futures as they finish, in completion order; with ``timeout``,
        raise TimeoutError from ``next()`` if none finished within that many seconds of
        the call (Dask's and concurrent.futures' ``as_completed`` both do).

        A pool whose engine is gone for good (no later task could run) raises
        :class:`dnnp_hpo.errors.EngineLost` from here and from :meth:`submit` rather
        than fail each future: the run stops (exit 3) with those evaluations pending, to
        be sent again on resume, instead of recording the rest of its budget ``lost``."""

    @property
    def size(self) -> int:
        """How many evaluations can run at once right now (workers' threads, Parsl's slots;
        ``nsga2-async`` keeps that many in flight and looks again while it waits)."""


@runtime_checkable
class Launcher(Protocol):
    """Builds a :class:`Pool` from the ``launcher:`` block (minus ``plugin``).

    Swapping Dask for Parsl, or a laptop for a cluster, is a change of this block
    only: the optimizer sees nothing but the pool.
    """

    def prepare(self, run: RunContext) -> None:
        """Check the settings (files exist, keys agree); raise SpecError. Launch nothing."""

    def connect(self, run: RunContext) -> AbstractContextManager[Pool]:
        """Start or join the engine; leaving the context shuts down what was started."""

    # Optional: describe(run: RunContext) -> str
    #     One line: what connect() would start or join (``--dry-run`` prints it, so that a
    #     cluster spec is seen to ask for what it should before anything is submitted).


@runtime_checkable
class Study(Protocol):
    """What an optimizer sees of a run: the space and an evaluator.

    Provided by core (:class:`dnnp_hpo.study.Study`); an optimizer never talks to the
    launcher, the trainer or the records directly.
    """

    #: :class:`dnnp_hpo.space.SearchSpace`: ``names``, ``init_ranges`` and ``bounds`` (gene
    #: units: log10 of a ``log: true`` parameter), ``sigmas``, ``decode(genome)``
    space: Any
    n_objectives: int
    seed: int  #: the experiment's seed: seed the optimizer's random streams from it

    def evaluate(self, genomes: Sequence[Sequence[float]], generation: int) -> list[Evaluation]:
        """Decode, check constraints, evaluate in parallel; results in input order.

        Infeasible genomes are never sent to a trainer.  Every evaluation is reported
        to the observers the moment it finishes.
        """

    def submit(self, genome: Sequence[float], generation: int, birth_id: int | None = None,
               sent_after: int | None = None) -> Trial:
        """Start one evaluation without waiting (a steady-state optimizer's way in).

        ``birth_id`` only to send again a birth that was pending at a checkpoint: its
        journal record is reused if it finished.  ``sent_after``: how many results the
        optimizer had taken back when it sent this birth, recorded with it so that a
        resume can send it at the same point (:meth:`recorded_sent_after`).  Do not mix
        with :meth:`evaluate`.
        """

    def recorded_sent_after(self, birth_id: int) -> int | None:
        """On resume, the ``sent_after`` recorded with ``birth_id`` (None: not recorded).

        A steady-state optimizer sends each recorded birth when it has taken back as many
        results as the interrupted run had, whatever the engine's capacity is now: the
        birth is then bred from the same population, and its record is reused.
        """

    def next_finished(self, timeout: float | None = None) -> Evaluation | None:
        """Block until any submitted evaluation finishes; return it (already recorded).
        With ``timeout``: None once that many seconds pass with none finished."""

    births: int  #: birth ids handed out so far: the next birth's id (on resume, the checkpoint's)
    pending: int  #: submitted births whose evaluation next_finished() has not returned
    capacity: int  #: evaluations the engine can run at once right now (its workers' threads)

    def in_flight(self) -> list[Trial]:
        """The pending trials, by birth: what a checkpoint must list to send them again."""

    def generation_finished(
        self, generation: int, population: Sequence[Member], state: Mapping[str, Any]
    ) -> None:
        """Report the survivors of ``generation`` and the optimizer's state to the observers.

        ``state`` is whatever the optimizer needs to continue after this generation
        (JSON-serialisable: sigmas, random-number-generator states...); the journal
        stores it with the population in one transaction and hands it back on resume.
        A steady-state optimizer adds ``inserted`` (results taken into the population)
        and ``pending`` (items starting with the birth id of each evaluation in flight):
        hpo-report then reads the generation as a snapshot (docs/plugins.md).
        """


@runtime_checkable
class Optimizer(Protocol):
    """The search algorithm; fields come from the ``optimizer:`` block minus ``plugin``."""

    def prepare(self, run: RunContext) -> None:
        """Check the settings against the run; raise SpecError. Launch nothing.

        Called when the spec is read, and on a resume once more with ``run.resumed`` set:
        :func:`dnnp_hpo.resume.journal_holdings` then tells what the journal holds (births
        sent out, finished, running, the highest generation started), and a budget below
        it is refused, for it would leave births in no population."""

    def planned_evaluations(self) -> int:
        """How many evaluations the whole search makes (for progress and estimates)."""

    def initial_genomes(self, study: Study) -> list[list[float]]:
        """Generation 0 as genomes, without evaluating it (``--dry-run`` prints it).

        Must be deterministic given the RNG state :meth:`run` starts from.
        """

    def run(self, study: Study, checkpoint: Checkpoint | None) -> list[Member]:
        """Search, and return the final population with rank and crowding distance: a
        non-empty list of :class:`Member`, after :meth:`Study.generation_finished` was
        called at least once (else the run is left unfinished, as the plugin's bug).

        With a ``checkpoint`` (a resumed run), continue after its generation from its
        population and state: the result must be the one an uninterrupted run gives.
        Evaluations that finished before the interruption are not trained again: the
        study hands back their records when the same birth is asked for.
        """

    # Optional: describe(run: RunContext) -> str
    #     One line: the search it would run, its budget and operators (``--dry-run`` prints
    #     it, so that a preset's rates and the budget are seen before anything trains).


# An optimizer may also have what the two protocols below describe; core asks with
# isinstance and does without when it has not (neither is needed to run a search).


@runtime_checkable
class Generational(Protocol):
    """An optimizer that evaluates in generations, each waiting for its last training
    (``nsga2``): generation 0 and ``generations`` more, ``pop_size`` evaluations each.
    The progress display then counts "generation k of n"; without it, births against
    :meth:`Optimizer.planned_evaluations` (a steady-state search has no generation barrier)."""

    pop_size: int
    generations: int


@runtime_checkable
class Extendable(Protocol):
    """An optimizer whose finished run can be taken up again with a larger budget
    (``hpo-run SPEC --set optimizer.generations=12 --force``).  Without it a finished run
    is only shown again, and a changed spec on it refused."""

    def extends(self, held: Holdings) -> bool:
        """Whether this optimizer's budget reaches past what the finished run's journal
        holds (``held``, :func:`dnnp_hpo.resume.journal_holdings`).  If so, :meth:`Optimizer.run`
        is called with the run's last checkpoint and must end as a run started with this
        budget would: nsga2's ``generations`` above the last generation, nsga2-async's
        ``max_births`` above the births sent."""


@runtime_checkable
class FixedOnResume(Protocol):
    """An optimizer with keys a started run cannot change, not even with ``--force``
    (nsga2-async's ``pop_size``).  A resume whose spec changes one is refused at once,
    in one line with the reason, where it was first offered ``--force`` and then refused
    with it (helper-124)."""

    #: key of the ``optimizer:`` block -> why a started run cannot change it, a clause
    #: ("its snapshots are numbered every pop_size insertions, ...")
    fixed_on_resume: Mapping[str, str]


# --------------------------------------------------------------------------------------
# Registration hooks: each returns {name: class} ({} to register nothing: None, a
# forgotten return, stops every command); names must be unique across plugins.
# --------------------------------------------------------------------------------------


@hookspec
def dnnp_hpo_parameter_types() -> Mapping[str, type[ParameterType]]:
    """Parameter types usable as ``space.<name>.type`` (built in: float, int, choice)."""


@hookspec
def dnnp_hpo_trainers() -> Mapping[str, type[Trainer]]:
    """Trainers usable as ``trainer.plugin`` (built in: deepmd, nequip, function)."""


@hookspec
def dnnp_hpo_launchers() -> Mapping[str, type[Launcher]]:
    """Launchers usable as ``launcher.plugin`` (built in: dask, parsl)."""


@hookspec
def dnnp_hpo_optimizers() -> Mapping[str, type[Optimizer]]:
    """Optimizers usable as ``optimizer.plugin`` (built in: nsga2, nsga2-async, replicates)."""


# --------------------------------------------------------------------------------------
# Observer hooks: called on the driver, in event order.
# --------------------------------------------------------------------------------------


@hookspec
def dnnp_hpo_run_started(run: RunContext) -> None:
    """The spec is valid, the run directory exists and the launcher is connected; nothing
    new has been evaluated yet (``run.resumed`` tells whether the journal already holds
    evaluations, ``run.recorded`` its finished ones by birth)."""


@hookspec
def dnnp_hpo_evaluation_started(run: RunContext, trial: Trial) -> None:
    """``trial`` was sent to a worker (infeasible trials are never started)."""


@hookspec
def dnnp_hpo_evaluation_interrupted(run: RunContext, trial: Trial, rerun: Trial) -> None:
    """On resume: ``trial`` was running when the driver died and left no usable result, or
    its record no longer matches the birth the resumed search asks for (a different
    genome); it is trained again as ``rerun`` (new uuid, new directory; the old one is left)."""


@hookspec
def dnnp_hpo_evaluation_finished(run: RunContext, evaluation: Evaluation) -> None:
    """One evaluation ended (any status); called once per evaluation, as it finishes."""


@hookspec
def dnnp_hpo_generation_finished(
    run: RunContext, generation: int, population: Sequence[Member], state: Mapping[str, Any]
) -> None:
    """Selection of ``generation`` is done; ``population`` are its survivors (generation 0
    is the evaluated initial population, ranked) and ``state`` the optimizer's state."""


@hookspec
def dnnp_hpo_run_finished(run: RunContext, population: Sequence[Member]) -> None:
    """The optimizer returned; ``population`` is the final one.  Called before the engine is
    stopped (the run is over; its workers are still up).  Not called on a crash."""
