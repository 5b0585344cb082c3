"""NSGA-II as in the seed paper (section 2.2.3, Listing 1), on LEAP's operators.

Each generation (``variation: paper``, :class:`PaperMutation`): pick parents at random,
clone, apply isotropic Gaussian mutation with the per-gene sigmas and hard bounds,
evaluate as many offspring as parents in parallel, rank parents and offspring together
(non-dominated sort), compute crowding distances and keep the best by (rank, -distance).
The sigmas are then multiplied by ``sigma_decay``.

``variation: sbx``, ``sbx-tuned`` and ``sbx-steady`` (:class:`SbxRates`: :data:`SBX`,
:data:`SBX_TUNED`, :data:`SBX_STEADY`) change only the reproduction pipeline (Deb's
NSGA-II: tournament on rank and crowding, SBX crossover, polynomial mutation; see
:mod:`.variation`); survival is the same.

The non-dominated sort is moocore's ``pareto_rank`` (:func:`pareto_rank_sort`), which
gives the same ranks as LEAP's ``rank_ordinal_sort`` of Listing 1 but sorts 10^5 points
in a fraction of a second instead of several seconds (docs/benchmarks.md, section 3).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import partial
from typing import Any, Protocol

import attrs
import moocore
import numpy as np
import toolz
from leap_ec import ops
from leap_ec.decoder import IdentityDecoder
from leap_ec.individual import Individual
from leap_ec.multiobjective.ops import crowding_distance_calc
from leap_ec.multiobjective.problems import MultiObjectiveProblem
from leap_ec.real_rep.ops import apply_hard_bounds

from dnnp_hpo.evaluation import Evaluation, Member
from dnnp_hpo.hookspecs import Study
from dnnp_hpo.journal import Checkpoint

from .variation import Duplicates, polynomial_mutation, sbx_crossover, tournament_selection

Bounds = Sequence[tuple[float, float]]
#: a candidate as the trainer sees it (``SearchSpace.decode``): what duplicates are compared by
Decode = Callable[[Sequence[float]], Mapping[str, Any]]


class TrainedProblem(MultiObjectiveProblem):
    """All objectives minimised; fitness comes from the run's evaluations, not from here."""

    def __init__(self, n_objectives: int) -> None:
        super().__init__(maximize=[False] * n_objectives)

    def evaluate(self, phenome):
        raise NotImplementedError("evaluations go through the Study, in parallel")


def random_genomes(rng: np.random.Generator, study: Study, size: int) -> list[list[float]]:
    """Generation 0: each gene uniform in its init range (paper, Table 1)."""
    low, high = np.array(study.space.init_ranges, dtype=float).T
    return [rng.uniform(low, high).tolist() for _ in range(size)]


# LEAP's random_selection and mutate_gaussian draw from the process-wide generators,
# which the engine's client threads also draw from (Dask's event loop jitters its
# periodic callbacks with random.random()).  The two operators below are the same
# operators on the optimizer's own generator, so a run depends on its seed alone.


def random_selection(rng: np.random.Generator):
    """Like ``leap_ec.ops.random_selection``: a uniformly random parent, forever."""

    def operator(population: list[Individual]) -> Iterator[Individual]:
        while True:
            yield population[int(rng.integers(len(population)))]

    return operator


def mutate_gaussian(rng: np.random.Generator, std: np.ndarray, bounds: Bounds):
    """Like LEAP's ``mutate_gaussian(std=..., expected_num_mutations='isotropic', bounds=...)``:
    every gene moves by its own sigma, then is clipped to its hard bounds."""

    def operator(next_individual: Iterator[Individual]) -> Iterator[Individual]:
        for individual in next_individual:
            genome = individual.genome + rng.normal(size=len(individual.genome)) * std
            individual.genome = apply_hard_bounds(genome, bounds)
            individual.fitness = None
            yield individual

    return operator


# -- reproduction: the operators between the parents and evaluate_pool in Listing 1 ------


class Breeding(Protocol):
    """How offspring are bred from the parents: what a spec's ``variation`` names."""

    def operators(self, rng: np.random.Generator, bounds: Bounds, std: np.ndarray,
                  decode: Decode | None = None, pending: Sequence[Sequence[float]] = ()) -> list:
        """The pipeline operators, each drawing from ``rng``: from the parents to an
        endless stream of offspring within ``bounds``.  ``std``: the per-gene sigmas of
        this generation; ``decode`` and ``pending``: what an offspring must not repeat
        (:class:`.variation.Duplicates`)."""
        ...

    def describe(self) -> str:
        """The operators and their rates in words (``--dry-run``)."""
        ...


@attrs.frozen
class PaperMutation:
    """``variation: paper``: the seed paper's reproduction (section 2.2.3, Listing 1).

    A uniformly random parent, cloned, isotropic Gaussian mutation of every gene by its
    own sigma (``std``, which the loop anneals by ``sigma_decay``), clipped to the hard
    bounds.  No rate of its own, and no duplicate is bred again.
    """

    def operators(self, rng: np.random.Generator, bounds: Bounds, std: np.ndarray,
                  decode: Decode | None = None, pending: Sequence[Sequence[float]] = ()) -> list:
        """:meth:`Breeding.operators` (``decode`` and ``pending`` unused)."""
        return [random_selection(rng), ops.clone, mutate_gaussian(rng, std=std, bounds=bounds)]

    def describe(self) -> str:
        return "a random parent, Gaussian mutation by each parameter's sigma within the bounds"


@attrs.frozen
class SbxRates:
    """Deb's NSGA-II reproduction (:mod:`.variation`) and its rates.

    Tournament of ``tournament_size`` on rank and crowding distance, clone, SBX crossover
    (a pair crossed with probability ``crossover_prob``, each of its genes with
    ``crossover_gene_prob``, distribution index ``crossover_eta``), polynomial mutation
    (each gene with probability ``mutation_prob``, ``None``: 1/genes; index
    ``mutation_eta``), and with ``drop_duplicates`` an offspring equal to a parent or a
    sibling bred again (:class:`.variation.Duplicates`).  The defaults are the ``sbx``
    preset's (:data:`SBX`): Deb's binary tournament, each gene of a pair crossed with
    probability 0.5, no duplicate elimination; the spec's ``crossover_eta``,
    ``crossover_prob``, ``mutation_eta`` and ``mutation_prob`` set that preset's four.
    """

    crossover_eta: float = 10.0
    crossover_prob: float = 0.9
    crossover_gene_prob: float = 0.5
    mutation_eta: float = 10.0
    mutation_prob: float | None = 0.3
    drop_duplicates: bool = False
    tournament_size: int = 2

    def operators(self, rng: np.random.Generator, bounds: Bounds, std: np.ndarray | None = None,
                  decode: Decode | None = None, pending: Sequence[Sequence[float]] = ()) -> list:
        """:meth:`Breeding.operators` (``std`` unused; ``decode`` and ``pending`` with
        ``drop_duplicates`` only)."""
        pipeline = [
            tournament_selection(rng, size=self.tournament_size),
            ops.clone,
            sbx_crossover(rng, bounds, eta=self.crossover_eta, p_crossover=self.crossover_prob,
                          p_variable=self.crossover_gene_prob),
            polynomial_mutation(rng, bounds, eta=self.mutation_eta, p_gene=self.mutation_prob),
        ]
        if self.drop_duplicates:
            duplicates = Duplicates(decode=decode, pending=pending)
            pipeline = [duplicates.remember, *pipeline, duplicates.drop]
        return pipeline

    def describe(self) -> str:
        """The pipeline and its rates in words, as ``--dry-run`` prints them."""
        genes = "1/genes" if self.mutation_prob is None else f"{self.mutation_prob:g}"
        return (f"tournament of {self.tournament_size}, SBX crossover (eta {self.crossover_eta:g}, pairs "
                f"{self.crossover_prob:g}, genes {self.crossover_gene_prob:g}), polynomial mutation (eta "
                f"{self.mutation_eta:g}, genes {genes}){', duplicates bred again' if self.drop_duplicates else ''}")


#: ``paper``: its sigmas come from the space, annealed by the loop
PAPER_MUTATION = PaperMutation()
#: ``sbx``: the defaults of :class:`SbxRates`, which the spec's four rate fields start from
SBX = SbxRates()
#: ``sbx-tuned``: fixed rates, chosen with bench/tune.py on tuning seeds 100-130 (never on
#: the seeds 0-10 that docs/benchmarks.md reports): every gene of a crossed pair is
#: crossed, mutation takes wide steps (eta 5) on a fifth of the genes, and an offspring
#: identical to a parent or a sibling is bred again rather than trained twice.
SBX_TUNED = SbxRates(crossover_eta=15.0, crossover_gene_prob=1.0, mutation_eta=5.0, mutation_prob=0.2,
                     drop_duplicates=True)
#: ``sbx-steady`` (the default of nsga2 and nsga2-async): sbx-tuned with parents picked by
#: a tournament of 4 instead of 2, and SBX children closer to their parents (eta 30, not 15).
#: The steady-state loop breeds every offspring from the newest population, so a result
#: that has just reached the front can be a parent of the very next birth; more selection
#: pressure makes that happen sooner.  Chosen with ``python -m bench.tune --steady``
#: (tuning seeds 100-130, never the reported ones) by sbx-tuned's rule, with generational
#: nsga2 at equal births as the peer: at least as good on all six problem/budget cells,
#: and the most better on average.  Tournaments of 8 lose on DTLZ2 at 220 evaluations,
#: where the front's spread counts.  Generational nsga2 does better with it than with
#: sbx-tuned too, by sbx-tuned's own rule against pymoo and Optuna (``bench.tune --presets``),
#: so it is nsga2's default as well.
SBX_STEADY = attrs.evolve(SBX_TUNED, tournament_size=4, crossover_eta=30.0)


# -- evaluation and survival --------------------------------------------------------------


def evaluate_pool(study: Study, size: int, generation: int):
    """Pull ``size`` offspring through the pipeline and evaluate them in parallel.

    Plays the part of LEAP's ``eval_pool(client=..., size=...)`` in Listing 1, but
    through the run's launcher, so the optimizer is the same on Dask and on Parsl.
    """

    def operator(next_individual: Iterator[Individual]) -> list[Individual]:
        offspring = [next(next_individual) for _ in range(size)]
        evaluations = study.evaluate([ind.genome for ind in offspring], generation)
        for ind, evaluation in zip(offspring, evaluations):
            ind.fitness = np.array(evaluation.fitness)
            ind.evaluation = evaluation
        return offspring

    return operator


def pareto_ranks(population: Sequence[Individual]) -> np.ndarray:
    """Each individual's non-dominated rank, 0 for the first front (moocore's
    ``pareto_rank``, each objective minimised or maximised as their problem says)."""
    fitness = np.array([ind.fitness for ind in population], dtype=float)
    # LEAP's problems say maximize with 1 and minimize with -1, per objective.
    maximise = (np.asarray(population[0].problem.maximize) == 1).tolist()
    return moocore.pareto_rank(fitness, maximise=maximise)


@toolz.curry
def pareto_rank_sort(population: list[Individual], parents: list[Individual] | None = None) -> list[Individual]:
    """Set each individual's non-dominated ``rank`` (1 for the first front, as LEAP's sorts
    number them); return ``population`` followed by ``parents``, in that order.

    A drop-in for LEAP's ``rank_ordinal_sort``: the same ranks (equal fitnesses share a
    rank; failed evaluations, MAXINT in every objective, form the last front), the same
    order of the returned list, so crowding and truncation see exactly what they saw.
    Unlike LEAP's, it does not extend ``population`` in place.
    """
    everyone = list(population) + list(parents or [])
    if not everyone:
        return everyone
    for ind, rank in zip(everyone, pareto_ranks(everyone)):
        ind.rank = int(rank) + 1
    return everyone


def survivors(offspring: list[Individual], parents: list[Individual], size: int) -> list[Individual]:
    """NSGA-II selection of Listing 1, lines 13-15: rank, crowd, truncate."""
    return toolz.pipe(
        offspring,
        pareto_rank_sort(parents=parents),
        crowding_distance_calc,
        ops.truncation_selection(size=size, key=lambda x: (-x.rank, x.distance)),
    )


# -- between LEAP individuals and the run's records ---------------------------------------


def individual(evaluation: Evaluation, problem: TrainedProblem) -> Individual:
    """The LEAP individual of ``evaluation``: its genome and fitness, the evaluation kept
    as ``.evaluation`` for the member it becomes (no rank nor distance yet)."""
    ind = Individual(np.array(evaluation.trial.genome, dtype=float), IdentityDecoder(), problem)
    ind.fitness = np.array(evaluation.fitness)
    ind.evaluation = evaluation
    return ind


def as_members(population: Sequence[Individual]) -> list[Member]:
    """The ranked and crowded ``population`` as the members a generation records, in order."""
    return [Member(ind.evaluation, int(ind.rank), float(ind.distance)) for ind in population]


def as_individuals(members: Sequence[Member], problem: TrainedProblem) -> list[Individual]:
    """Rebuild LEAP individuals, with their rank and crowding distance, from recorded
    members (the inverse of :func:`as_members`)."""
    population = []
    for m in members:
        ind = individual(m.evaluation, problem)
        ind.rank, ind.distance = m.rank, m.distance
        population.append(ind)
    return population


def ranked_members(evaluations: Sequence[Evaluation], n_objectives: int) -> list[Member]:
    """``evaluations`` as one population, in their order: each with its non-dominated rank
    and crowding distance among them (NSGA-II's generation 0)."""
    problem = TrainedProblem(n_objectives)
    ranked = toolz.pipe([individual(e, problem) for e in evaluations], pareto_rank_sort, crowding_distance_calc)
    return as_members(ranked)


def save_state(rng: np.random.Generator, std: np.ndarray) -> dict[str, Any]:
    """Everything the next generation depends on besides the population."""
    return {"std": std.tolist(), "rng": rng.bit_generator.state}


def load_state(rng: np.random.Generator, state: dict[str, Any]) -> np.ndarray:
    """Put ``rng`` back where :func:`save_state` found it; return the sigmas it saved."""
    rng.bit_generator.state = state["rng"]
    return np.array(state["std"], dtype=float)


def nsga2(study: Study, rng: np.random.Generator, pop_size: int, generations: int, sigma_decay: float,
          initial: list[list[float]] | None, checkpoint: Checkpoint | None = None,
          variation: Breeding = PAPER_MUTATION) -> list[Member]:
    """Run generation 0 (``initial``) and ``generations`` more; return the survivors.

    With a ``checkpoint``, start after its generation from its population and state.
    ``variation`` breeds the offspring: :data:`PAPER_MUTATION` (the default, the paper's),
    or :class:`SbxRates` such as :data:`SBX_STEADY`.
    """
    if checkpoint is None:
        std = np.array(study.space.sigmas, dtype=float)
        population = ranked_members(study.evaluate(initial, generation=0), study.n_objectives)
        study.generation_finished(0, population, save_state(rng, std))
        first = 1
    else:
        population, std = checkpoint.population, load_state(rng, checkpoint.state)
        # A run started without sigmas (its variation never reads them) saved NaN; taken up
        # with --force as variation: paper, such a gene mutates by its sigma as annealed by now.
        given = np.array(study.space.sigmas, dtype=float) * sigma_decay ** checkpoint.generation
        std = np.where(np.isnan(std), given, std)
        first = checkpoint.generation + 1
    parents = as_individuals(population, TrainedProblem(study.n_objectives))

    breed = partial(variation.operators, rng, study.space.bounds, decode=study.space.decode)
    for generation in range(first, generations + 1):
        offspring = toolz.pipe(
            parents,
            *breed(std),  # paper: random_selection, ops.clone, mutate_gaussian(std=std, bounds=...)
            evaluate_pool(study, size=pop_size, generation=generation),
        )
        parents = survivors(offspring, parents, size=pop_size)
        std = std * sigma_decay  # anneal the mutation each generation (paper, 2.2.3)
        study.generation_finished(generation, as_members(parents), save_state(rng, std))
    return as_members(parents)
