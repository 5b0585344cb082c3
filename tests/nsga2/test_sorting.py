"""The non-dominated sort of the nsga2 plugin (moocore's pareto_rank behind LEAP's interface).

Properties on random populations with ties, duplicates and failed evaluations (MAXINT in
every objective): the ranks equal a brute-force sort, and NSGA-II survival picks exactly
what it picked with LEAP's rank_ordinal_sort (the sort of the paper's Listing 1).
"""

from __future__ import annotations

import numpy as np
import toolz
from hypothesis import given, settings
from hypothesis import strategies as st
from leap_ec import ops
from leap_ec.decoder import IdentityDecoder
from leap_ec.individual import Individual
from leap_ec.multiobjective.ops import crowding_distance_calc, rank_ordinal_sort
from leap_ec.multiobjective.problems import MultiObjectiveProblem

from dnnp_hpo.evaluation import MAXINT
from dnnp_hpo.plugins.nsga2.algorithm import TrainedProblem, pareto_rank_sort, survivors

# Coarse values so that ties in one objective and whole duplicates are frequent; MAXINT
# is what a failed training gets in every objective.
value = st.integers(0, 6).map(float)
failed = st.just("failed")


def points(m: int):
    point = st.one_of(st.tuples(*[value] * m), failed).map(lambda p: (MAXINT,) * m if p == "failed" else p)
    return st.lists(point, min_size=1, max_size=40)


def brute_force_ranks(fitness: list[tuple[float, ...]], maximize: list[bool]) -> list[int]:
    """Peel fronts off by checking every pair: rank 1 for the first front."""
    sign = np.where(maximize, -1.0, 1.0)
    f = [np.asarray(p) * sign for p in fitness]

    def dominates(a, b):
        return bool(np.all(a <= b) and np.any(a < b))

    ranks, remaining, rank = [0] * len(f), set(range(len(f))), 1
    while remaining:
        front = {i for i in remaining if not any(dominates(f[j], f[i]) for j in remaining)}
        for i in front:
            ranks[i] = rank
        remaining -= front
        rank += 1
    return ranks


def individuals(fitness, problem) -> list[Individual]:
    out = []
    for i, p in enumerate(fitness):
        ind = Individual(np.array([float(i)]), IdentityDecoder(), problem)
        ind.fitness = np.array(p, dtype=float)
        out.append(ind)
    return out


@settings(max_examples=200, deadline=None)
@given(data=st.data(), m=st.sampled_from([2, 3]))
def test_ranks_equal_a_brute_force_sort(data, m):
    fitness = data.draw(points(m))
    n_parents = data.draw(st.integers(0, len(fitness)))
    population = individuals(fitness, TrainedProblem(m))
    offspring, parents = population[n_parents:], population[:n_parents]
    ranked = pareto_rank_sort(offspring, parents=parents)
    assert ranked == offspring + parents  # offspring first, as LEAP's sort returns them
    assert len(offspring) == len(fitness) - n_parents  # not extended in place
    expected = brute_force_ranks([ind.fitness for ind in ranked], [False] * m)
    assert [ind.rank for ind in ranked] == expected
    for ind in ranked:  # failed evaluations sit together on the last front
        if np.all(ind.fitness == MAXINT):
            assert ind.rank == max(expected)


class Directions(MultiObjectiveProblem):
    """Some objectives maximised (the plugin's own problem minimises all)."""

    def evaluate(self, phenome):
        raise NotImplementedError


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_ranks_follow_the_problems_directions(data):
    maximize = data.draw(st.lists(st.booleans(), min_size=2, max_size=3))
    fitness = data.draw(st.lists(st.tuples(*[value] * len(maximize)), min_size=1, max_size=30))
    ranked = pareto_rank_sort(individuals(fitness, Directions(maximize=maximize)))
    assert [ind.rank for ind in ranked] == brute_force_ranks(fitness, maximize)


def leap_survivors(offspring, parents, size):
    """survivors() as it was written with LEAP's rank_ordinal_sort (Listing 1, lines 13-15)."""
    return toolz.pipe(
        offspring,
        rank_ordinal_sort(parents=parents),
        crowding_distance_calc,
        ops.truncation_selection(size=size, key=lambda x: (-x.rank, x.distance)),
    )


@settings(max_examples=200, deadline=None)
@given(data=st.data(), m=st.sampled_from([2, 3]))
def test_survival_is_the_same_as_with_leaps_sort(data, m):
    fitness = data.draw(points(m).filter(lambda f: len(f) >= 2))
    n_parents = data.draw(st.integers(1, len(fitness) - 1))
    size = data.draw(st.integers(1, len(fitness)))
    mine = individuals(fitness, TrainedProblem(m))
    theirs = individuals(fitness, TrainedProblem(m))
    chosen = survivors(mine[n_parents:], mine[:n_parents], size)
    expected = leap_survivors(theirs[n_parents:], theirs[:n_parents], size)
    # The same individuals, in the same order, with the same rank and crowding distance.
    assert [(ind.genome[0], ind.rank, ind.distance) for ind in chosen] == \
        [(ind.genome[0], ind.rank, ind.distance) for ind in expected]
