"""The steady-state population's incremental (ENLU) ranking equals a full re-sort.

After every single insertion into :class:`SteadyStatePopulation`, each member's rank must
be its non-dominated front in a from-scratch sort of the members, and the crowding
distances those of NSGA-II on each front.  Fitness values are drawn from a small grid so
that ties, duplicates and MAXINT failures (the paper's fitness of a failed training) are
frequent: the cases incremental algorithms get wrong.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from leap_ec.decoder import IdentityDecoder
from leap_ec.individual import Individual
from leap_ec.multiobjective.ops import per_rank_crowding_calc

from dnnp_hpo.evaluation import MAXINT
from dnnp_hpo.plugins.nsga2.algorithm import TrainedProblem
from dnnp_hpo.plugins.nsga2.asynchronous import SteadyStatePopulation


def dominates(a, b) -> bool:
    return bool(np.all(a <= b) and np.any(a < b))


def full_sort_ranks(points: list[np.ndarray]) -> list[int]:
    """Textbook non-dominated sorting by peeling fronts: 1-based ranks."""
    ranks = [0] * len(points)
    left = set(range(len(points)))
    rank = 0
    while left:
        rank += 1
        front = {i for i in left if not any(dominates(points[j], points[i]) for j in left if j != i)}
        for i in front:
            ranks[i] = rank
        left -= front
    return ranks


def crowding(points: list[np.ndarray], problem: TrainedProblem) -> list[float]:
    """NSGA-II crowding distances of one front, computed afresh."""
    front = []
    for point in points:
        ind = Individual(np.zeros(1), IdentityDecoder(), problem)
        ind.fitness = point
        front.append(ind)
    per_rank_crowding_calc(front, problem.maximize)
    return [ind.distance for ind in front]


value = st.one_of(st.integers(0, 4).map(float), st.just(MAXINT))


@settings(max_examples=150, deadline=None)
@given(n_objectives=st.integers(2, 3), size=st.integers(1, 12), data=st.data())
def test_ranks_equal_a_full_resort_after_every_insertion(n_objectives, size, data):
    points = data.draw(st.lists(st.lists(value, min_size=n_objectives, max_size=n_objectives),
                                min_size=1, max_size=30))
    problem = TrainedProblem(n_objectives)
    population = SteadyStatePopulation(size)
    for i, point in enumerate(points):
        ind = Individual(np.zeros(1), IdentityDecoder(), problem)
        ind.fitness = np.array(point)
        population.insert(ind)

        members = population.members
        assert len(members) == min(i + 1, size)
        fitness = [m.fitness for m in members]
        assert [m.rank for m in members] == full_sort_ranks(fitness)
        for front in population.fronts:
            assert front and len({m.rank for m in front}) == 1
        # Crowding recomputed from scratch on each front: the stored distances agree.
        for front in population.fronts:
            assert [m.distance for m in front] == crowding([m.fitness for m in front], problem)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_truncation_drops_the_most_crowded_of_the_worst_front(data):
    """Over capacity, the member removed is one of the worst front with the least distance."""
    problem = TrainedProblem(2)
    size = data.draw(st.integers(2, 8))
    points = data.draw(st.lists(st.lists(st.integers(0, 6).map(float), min_size=2, max_size=2),
                                min_size=size + 1, max_size=size + 10))
    population = SteadyStatePopulation(size)
    for point in points:
        before = list(population.members)
        ind = Individual(np.zeros(1), IdentityDecoder(), problem)
        ind.fitness = np.array(point)
        if len(before) < size:
            population.insert(ind)
            continue
        # What a full NSGA-II step would see: everyone with the newcomer, re-ranked.
        everyone = before + [ind]
        ranks = full_sort_ranks([m.fitness for m in everyone])
        population.insert(ind)
        kept = population.members
        removed = [i for i, m in enumerate(everyone) if all(m is not k for k in kept)]
        assert len(removed) == 1
        assert ranks[removed[0]] == max(ranks)
        worst = [i for i, r in enumerate(ranks) if r == max(ranks)]
        distance = dict(zip(worst, crowding([everyone[i].fitness for i in worst], problem)))
        assert distance[removed[0]] == min(distance.values())


def test_the_case_leap_enlu_ranks_one_front_too_deep():
    """Found by the property test above: LEAP 0.8.2's ENLU alone puts (MAXINT, 1, 1) in
    front 4 after (0, 0, 1) arrives; a full sort says front 3."""
    problem = TrainedProblem(3)
    population = SteadyStatePopulation(6)
    for point in ([0, 0, 0], [MAXINT, 0, MAXINT], [0, MAXINT, 1], [MAXINT, 1, 0], [MAXINT, 1, 1], [0, 0, 1]):
        ind = Individual(np.zeros(1), IdentityDecoder(), problem)
        ind.fitness = np.array(point, dtype=float)
        population.insert(ind)
    members = population.members
    assert [m.rank for m in members] == full_sort_ranks([m.fitness for m in members]) == [1, 2, 2, 3, 3, 3]
