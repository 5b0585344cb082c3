"""Optimizer plugins ``nsga2`` (the paper's generational NSGA-II) and ``nsga2-async``."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import ClassVar

import attrs
import numpy as np

from dnnp_hpo.errors import SpecError
from dnnp_hpo.hookspecs import Study, hookimpl
from dnnp_hpo.journal import Checkpoint
from dnnp_hpo.resume import Holdings, journal_holdings
from dnnp_hpo.run import RunContext
from dnnp_hpo.spec import MAX_EVALUATIONS, MAX_WORKERS, Invalid, at_most, one_of

from .algorithm import PAPER_MUTATION, SBX, SBX_STEADY, SBX_TUNED, Breeding, SbxRates, nsga2, random_genomes
from .asynchronous import steady_state_nsga2

#: the one variation that reads the space's sigmas (:meth:`Reproduction.prepare`)
PAPER = "paper"
#: the ``variation`` names a spec may give, and how each breeds; ``sbx`` breeds with the
#: spec's rates (:meth:`Reproduction.breeding` builds them), :data:`.algorithm.SBX` being
#: them at their defaults: the entry is there for the name
VARIATIONS: dict[str, Breeding] = {PAPER: PAPER_MUTATION, "sbx": SBX, "sbx-tuned": SBX_TUNED,
                                   "sbx-steady": SBX_STEADY}

#: largest population: --dry-run shows all of generation 0 (10,000 rows take seconds,
#: 1,000,000 minutes and gigabytes), and each generation sorts the population pairwise
MAX_POP_SIZE = 10_000


#: the rates of ``variation: sbx``, fixed in every other preset
_SBX_RATES = ("crossover_eta", "crossover_prob", "mutation_eta", "mutation_prob")


def _positive(_instance, attribute, value) -> None:
    if value <= 0:
        raise Invalid(f"{attribute.name} must be positive, got {value}", attribute.name)


def _decay(_instance, attribute, value) -> None:
    # Every sigma is multiplied by it each generation: above 1 they grow (1e308 overflowed
    # to inf and every mutation landed on a bound).
    if not 0 < value <= 1:
        raise Invalid(f"{attribute.name} must lie in (0, 1] (each generation multiplies every sigma by it; 1 "
                      f"keeps them), got {value}", attribute.name)


def _probability(_instance, attribute, value) -> None:
    if value is not None and not 0.0 <= value <= 1.0:
        raise Invalid(f"{attribute.name} must lie in [0, 1], got {value}", attribute.name)


@attrs.frozen
class Reproduction:
    """How offspring are made; shared by ``nsga2`` and ``nsga2-async``.

    ``variation`` picks the operators (survival is NSGA-II's in all):

    * ``sbx-steady`` (the default of both optimizers): NSGA-II breeding with
      each parent the best of a tournament of 4 on rank and crowding distance, SBX
      crossover on every gene of a crossed pair (eta 30, pair probability 0.9),
      polynomial mutation (eta 5) on a fifth of the genes, offspring identical to a
      parent or sibling bred again (:data:`.algorithm.SBX_STEADY`).  Chosen first for the
      steady-state loop (hence the name); generational ``nsga2`` does better with it
      too, on the tuning seeds and on every benchmark row (docs/benchmarks.md).  Rates
      fixed; the fields below do not change them.
    * ``sbx-tuned``: the same with a binary tournament and SBX eta 15
      (:data:`.algorithm.SBX_TUNED`, chosen on tuning seeds against pymoo and Optuna; ``nsga2``'s
      default before ``sbx-steady`` was measured to beat it).  Fixed as well.
    * ``paper``: the seed paper's operators exactly (section 2.2.3, Listing 1): a random
      parent, cloned, isotropic Gaussian mutation with each parameter's ``sigma``, hard
      bounds, sigmas multiplied by ``sigma_decay`` after each generation.  A spec that
      copies the paper's Table 1 says ``variation: paper``.
    * ``sbx``: Deb's NSGA-II operators with the rates below: SBX crossover
      (``crossover_eta``, ``crossover_prob``, each gene of a pair crossed with probability
      0.5) and polynomial mutation (``mutation_eta``, ``mutation_prob``; ``null`` means
      1/genes) within each parameter's bounds.

    ``sigma`` and ``sigma_decay`` are used by ``paper`` only.
    """

    pop_size: int = attrs.field(default=100, validator=[_positive, at_most(MAX_POP_SIZE)])
    sigma_decay: float = attrs.field(default=0.85, validator=_decay)
    variation: str = attrs.field(default="sbx-steady", validator=one_of(VARIATIONS))
    # variation: sbx only, defaults the preset's own (Deb's textbook values are crossover_eta
    # 15, mutation_eta 20, mutation_prob 1/genes; these were chosen on tuning seeds 100-110
    # of bench/quality.py).
    crossover_eta: float = attrs.field(default=SBX.crossover_eta, validator=_positive)
    crossover_prob: float = attrs.field(default=SBX.crossover_prob, validator=_probability)
    mutation_eta: float = attrs.field(default=SBX.mutation_eta, validator=_positive)
    mutation_prob: float | None = attrs.field(default=SBX.mutation_prob, validator=_probability)

    def prepare(self, run: RunContext) -> None:
        """``variation: paper`` mutates each gene by its parameter's ``sigma``: every
        parameter must give one (the others never read it, so it is optional in the space).
        A key the chosen variation does not read is warned about, once: on resume prepare
        is asked again for the run it resumes."""
        if not run.resumed:
            self._warn_unread(run)
        if self.variation != PAPER:
            return
        for name, parameter in run.space.parameters.items():
            if parameter.sigma is None:
                raise SpecError(f"paper mutates each gene by its parameter's sigma, and space.{name} gives none: "
                                "give every parameter a sigma (the starting standard deviation of its Gaussian "
                                "mutation, in gene units), or choose another variation", "variation")

    def _warn_unread(self, run: RunContext) -> None:
        """A warning for each key of the spec's optimizer block that ``variation`` does not
        read: ``sigma_decay: 0.5`` beside the default sbx-steady was taken without a word
        and changed nothing.  A warning, not an error: a spec may keep it for ``--set
        optimizer.variation=paper``."""
        given = run.raw_spec.get("optimizer")
        read_by = {"sigma_decay": PAPER, **dict.fromkeys(_SBX_RATES, "sbx")}
        for key in given if isinstance(given, dict) else ():
            if key in read_by and read_by[key] != self.variation:
                print(f"hpo-run: warning: {run.spec_path}: optimizer.{key}: variation {self.variation} does not read "
                      f"it (only {read_by[key]} does), so it changes nothing", file=sys.stderr)

    def _variation_said(self) -> str:
        """``variation`` and what it breeds with, for :meth:`describe`."""
        said = f"variation {self.variation}: {self.breeding().describe()}"
        return f"{said}, sigmas x {self.sigma_decay:g} each generation" if self.variation == PAPER else said

    def breeding(self) -> Breeding:
        """How ``variation`` breeds offspring, for :func:`.algorithm.nsga2` and
        :func:`.asynchronous.steady_state_nsga2`: a preset's fixed rates, or for ``sbx``
        :class:`.algorithm.SbxRates` with this spec's four."""
        if self.variation == "sbx":
            return SbxRates(crossover_eta=self.crossover_eta, crossover_prob=self.crossover_prob,
                            mutation_eta=self.mutation_eta, mutation_prob=self.mutation_prob)
        return VARIATIONS[self.variation]


@attrs.frozen
class NSGA2(Reproduction):
    """``optimizer: {plugin: nsga2, pop_size: 100, generations: 6, variation: paper}``.

    The generational NSGA-II of the paper: each generation waits for all its trainings.
    ``generations`` counts the generations after the initial population (generation 0),
    so the paper's run is ``generations: 6``: 7 x pop_size evaluations.  Reproduction
    fields: :class:`Reproduction`.
    """

    generations: int = attrs.field(default=6)

    def __attrs_post_init__(self) -> None:
        if self.generations < 0:
            raise Invalid(f"generations must be 0 or more, got {self.generations}", "generations")
        if self.planned_evaluations() > MAX_EVALUATIONS:
            raise Invalid(f"generations must keep pop_size x (generations + 1) at most {MAX_EVALUATIONS:,} "
                          f"evaluations, got {self.pop_size:,} x {self.generations + 1:,}", "generations")

    def prepare(self, run: RunContext) -> None:
        """On resume (``--force``, or a spec raised and lowered again), ``generations`` must
        reach every generation the run has started: one it stopped short of would stay
        unfinished for good, its births in no population, and the run be called finished.
        ``pop_size`` may change, but not below the births the unfinished generation has
        sent out: those above it would never be asked for again (left ``running`` for
        good, or their finished trainings set aside)."""
        super().prepare(run)
        if not run.resumed or run.finished:
            return
        held = journal_holdings(run.run_dir)
        started = held.generation
        if self.generations < started:
            raise SpecError(
                f"{self.generations} is below generation {started}, which the run in {run.run_dir} has "
                f"already started (its journal holds births of it): resume it with generations: {started} "
                "or more, or choose another run_dir", "generations")
        if self.pop_size < held.open_births:
            raise SpecError(
                f"{self.pop_size} is below the {held.open_births} births generation {started} of the run in "
                f"{run.run_dir} has already sent out (it stopped before that generation ended): resume it with "
                f"pop_size: {held.open_births} or more, or choose another run_dir", "pop_size")

    def planned_evaluations(self) -> int:
        return self.pop_size * (self.generations + 1)

    def describe(self, run: RunContext) -> str:
        return (f"nsga2: pop_size {self.pop_size}, generations {self.generations} "
                f"({self.planned_evaluations():,} evaluations), {self._variation_said()}")

    def extends(self, held: Holdings) -> bool:
        """A finished run goes on to more generations (``--force``)."""
        return self.generations > held.generation

    def initial_genomes(self, study: Study) -> list[list[float]]:
        return random_genomes(np.random.default_rng(study.seed), study, self.pop_size)

    def run(self, study: Study, checkpoint: Checkpoint | None = None):
        # One generator for the whole search, seeded from the spec; generation 0 is
        # drawn from it first, exactly as initial_genomes() shows it to --dry-run.
        rng = np.random.default_rng(study.seed)
        initial = random_genomes(rng, study, self.pop_size)
        return nsga2(study, rng, self.pop_size, self.generations, self.sigma_decay,
                     None if checkpoint else initial, checkpoint, variation=self.breeding())


@attrs.frozen
class NSGA2Async(Reproduction):
    """``optimizer: {plugin: nsga2-async, pop_size: 100, max_births: 700, init_pop_size: 100}``.

    Steady-state NSGA-II (:mod:`.asynchronous`): a new offspring is sent out the moment
    any evaluation returns, so no worker waits for the slowest training of a generation.
    ``max_births`` counts every evaluation, generation 0 included (``700`` is the budget
    of ``nsga2`` with ``pop_size: 100, generations: 6``).  Generation 0 is the same
    ``pop_size`` random genomes as ``nsga2``'s.  ``init_pop_size`` evaluations are sent
    at the start and kept in flight (LEAP's name); by default as many as the engine has
    workers, re-read as workers join, which keeps them all busy but makes the order of
    births depend on when workers arrive.  With one worker, or with ``init_pop_size: 1``,
    the order and so the whole search depends on the seed alone (docs/optimizer.md).
    The population is recorded every ``pop_size`` evaluations as a generation.
    Reproduction fields: :class:`Reproduction`.
    """

    #: keys a started run cannot change, not even with --force: core's resume check refuses
    #: another value (hookspecs.FixedOnResume)
    fixed_on_resume: ClassVar[Mapping[str, str]] = {
        "pop_size": "its snapshots are numbered every pop_size insertions, and the next ones would replace "
                    "those recorded",
    }
    max_births: int = attrs.field(default=700, validator=[_positive, at_most(MAX_EVALUATIONS)])
    init_pop_size: int | None = attrs.field(default=None, validator=at_most(MAX_WORKERS))

    def __attrs_post_init__(self) -> None:
        if self.init_pop_size is not None and self.init_pop_size <= 0:
            raise Invalid(f"init_pop_size must be positive, got {self.init_pop_size}", "init_pop_size")

    def prepare(self, run: RunContext) -> None:
        """On resume (``--force``, or a spec raised and lowered again), ``max_births`` must
        cover every birth the run has already sent out: those above it would never be
        inserted nor sent again (the ones running left ``running`` for good), and the run
        called finished."""
        super().prepare(run)
        if not run.resumed and self.max_births <= self.pop_size:
            # Valid (a random search of max_births), but rarely what is meant: the budget
            # counts generation 0, which alone is pop_size births.
            print(f"hpo-run: warning: {run.spec_path}: optimizer.max_births: {self.max_births} is not above "
                  f"pop_size {self.pop_size}: only random genomes of generation 0 are trained, no offspring "
                  "is bred; the budget counts generation 0 too (700 is nsga2's pop_size 100, generations 6)",
                  file=sys.stderr)
        if not run.resumed or run.finished:
            return
        held = journal_holdings(run.run_dir)
        if self.max_births < held.births:
            raise SpecError(
                f"{self.max_births} is below the {held.births} births the run in {run.run_dir} has already "
                f"sent out ({held.finished} recorded finished, {held.running} running when it stopped): "
                f"resume it with max_births: {held.births} or more, or choose another run_dir", "max_births")

    def planned_evaluations(self) -> int:
        return self.max_births

    def describe(self, run: RunContext) -> str:
        in_flight = self.init_pop_size or "one per worker"
        return (f"nsga2-async: pop_size {self.pop_size}, max_births {self.max_births:,} (evaluations, generation 0 "
                f"included), init_pop_size {in_flight} (in flight at once), {self._variation_said()}")

    def extends(self, held: Holdings) -> bool:
        """A finished run goes on to more births (``--force``)."""
        return self.max_births > held.births

    def initial_genomes(self, study: Study) -> list[list[float]]:
        # An init_pop_size above pop_size sends that many at the start, before any result
        # is back to breed from: the ones past pop_size are random too, of generation 0, the
        # generator's next draws (asynchronous.steady_state_nsga2), and --dry-run shows them.
        size = max(self.pop_size, self.init_pop_size or 0)
        return random_genomes(np.random.default_rng(study.seed), study, min(size, self.max_births))

    def run(self, study: Study, checkpoint: Checkpoint | None = None):
        # Generation 0 is drawn first from the spec's seed, as in nsga2 and --dry-run; all
        # pop_size of it whatever the budget, so that the generator a snapshot saves is the
        # same under a smaller max_births (a finished run extended breeds as one started
        # with the larger budget).
        rng = np.random.default_rng(study.seed)
        initial = random_genomes(rng, study, self.pop_size)
        return steady_state_nsga2(study, rng, pop_size=self.pop_size, max_births=self.max_births,
                                  initial=initial, in_flight=self.init_pop_size, sigma_decay=self.sigma_decay,
                                  checkpoint=checkpoint, variation=self.breeding())


@hookimpl
def dnnp_hpo_optimizers() -> dict[str, type]:
    return {"nsga2": NSGA2, "nsga2-async": NSGA2Async}
