"""NSGA-II as in the seed paper (section 2.2.3, Listing 1), on LEAP's operators.

Each generation: pick parents at random, clone, apply isotropic Gaussian mutation with
the per-gene sigmas and hard bounds, evaluate as many offspring as parents in parallel,
rank parents and offspring together (rank-ordinal sort), compute crowding distances and
keep the best by (rank, -distance).  The sigmas are then multiplied by ``sigma_decay``.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence

import numpy as np
import toolz
from leap_ec import ops
from leap_ec.decoder import IdentityDecoder
from leap_ec.individual import Individual
from leap_ec.multiobjective.ops import crowding_distance_calc, rank_ordinal_sort
from leap_ec.multiobjective.problems import MultiObjectiveProblem
from leap_ec.real_rep.ops import mutate_gaussian

from dnnp_hpo.evaluation import Member
from dnnp_hpo.hookspecs import Study


class TrainedProblem(MultiObjectiveProblem):
    """All objectives minimised; fitness comes from the run's evaluations, not from here."""

    def __init__(self, n_objectives: int) -> None:
        super().__init__(maximize=[False] * n_objectives)

    def evaluate(self, phenome):
        raise NotImplementedError("evaluations go through the Study, in parallel")


def seed_streams(seed: int) -> None:
    """LEAP draws from Python's and NumPy's global generators: seed both."""
    random.seed(seed)
    np.random.seed(seed % 2**32)


def random_genomes(study: Study, size: int) -> list[list[float]]:
    """Generation 0: each gene uniform in its init range (paper, Table 1)."""
    return [[random.uniform(lo, hi) for lo, hi in study.space.init_ranges] for _ in range(size)]


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


def survivors(offspring: list[Individual], parents: list[Individual], size: int) -> list[Individual]:
    """NSGA-II selection of Listing 1, lines 13-15: rank, crowd, truncate."""
    return toolz.pipe(
        offspring,
        rank_ordinal_sort(parents=parents),
        crowding_distance_calc,
        ops.truncation_selection(size=size, key=lambda x: (-x.rank, x.distance)),
    )


def as_members(population: Sequence[Individual]) -> list[Member]:
    return [Member(ind.evaluation, int(ind.rank), float(ind.distance)) for ind in population]


def nsga2(study: Study, pop_size: int, generations: int, sigma_decay: float,
          initial: list[list[float]]) -> list[Member]:
    """Run generation 0 (``initial``) and ``generations`` more; return the survivors."""
    problem = TrainedProblem(study.n_objectives)
    std = np.array(study.space.sigmas, dtype=float)
    bounds = study.space.bounds

    parents = [Individual(np.array(g, dtype=float), IdentityDecoder(), problem) for g in initial]
    parents = evaluate_pool(study, len(parents), generation=0)(iter(parents))
    parents = toolz.pipe(parents, rank_ordinal_sort, crowding_distance_calc)
    study.generation_finished(0, as_members(parents))

    for generation in range(1, generations + 1):
        offspring = toolz.pipe(
            parents,
            ops.random_selection,
            ops.clone,
            mutate_gaussian(std=std, expected_num_mutations="isotropic", bounds=bounds),
            evaluate_pool(study, size=pop_size, generation=generation),
        )
        parents = survivors(offspring, parents, size=pop_size)
        std = std * sigma_decay  # anneal the mutation each generation (paper, 2.2.3)
        study.generation_finished(generation, as_members(parents))
    return as_members(parents)
