"""Asynchronous steady-state NSGA-II: no worker waits for the slowest training.

LEAP's ``steady_state_nsga_2`` (``leap_ec.multiobjective.asynchronous``) as a loop over
the run's Study instead of a Dask client, so that it runs on every launcher:

1. send ``init_pop_size`` evaluations out at once (default: one per worker): the
   ``pop_size`` random genomes of generation 0 (the same as ``nsga2``'s) go first, and
   beyond ``pop_size`` (more workers than members) further random genomes, also of
   generation 0, as LEAP does: until a result is back there is nothing to breed from;
2. each time any evaluation returns, insert it into the population with the ENLU
   incremental non-dominated ranking (:class:`SteadyStatePopulation`), dropping the most
   crowded member of the last front once the population exceeds ``pop_size``;
3. while the birth budget lasts, send the next one out at once: the next random genome
   of generation 0 while there is one, else one offspring bred from the population with
   the same reproduction pipeline as ``nsga2``.

The number in flight stays ``init_pop_size``, as in LEAP: each offspring is bred from a
population that misses only the results still in flight, so keep it near the number of
workers (more only queues work, and breeds from staler information).

Every ``pop_size`` evaluations the population is recorded as a "generation" (snapshot
``g`` after ``(g + 1) * pop_size`` evaluations, :func:`snapshot_number`), with what a
resume needs: the random generator, the count of evaluations inserted and the births
still pending.  Offspring bred after snapshot ``g`` are labelled generation ``g + 1``
(:func:`offspring_generation`) and mutated with the sigmas annealed ``g`` times, as
generation ``g + 1`` of the generational run is: a budget means the same thing in both
modes.  Offspring bred before snapshot 0 (from the first results of generation 0) are
generation 1 as well: generation 0 is the random genomes alone.

On resume the pending births are sent again under their birth ids; the Study hands back
the journal's records in the order they were recorded, so the search replays the
interrupted run's insertions and breeds the same offspring until it reaches what was
still running when the driver died.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

import numpy as np
import toolz
from leap_ec.individual import Individual
from leap_ec.multiobjective.ops import per_rank_crowding_calc

from dnnp_hpo.evaluation import Member
from dnnp_hpo.hookspecs import Study
from dnnp_hpo.journal import Checkpoint

from .algorithm import (
    PAPER_MUTATION,
    Breeding,
    TrainedProblem,
    as_individuals,
    as_members,
    individual,
    pareto_ranks,
    random_genomes,
)

#: seconds between looks at the engine's capacity while every evaluation in flight runs
CAPACITY_POLL_S = 2.0


def offspring_generation(inserted: int, pop_size: int) -> int:
    """The generation of an offspring bred after ``inserted`` insertions: ``g`` once
    snapshot ``g - 1`` is taken, and 1 before snapshot 0 (generation 0 is the random
    genomes alone)."""
    return max(1, inserted // pop_size)


def snapshot_number(inserted: int, pop_size: int) -> int:
    """The snapshot taken after ``inserted`` insertions: ``g`` after ``(g + 1) * pop_size``;
    a last one short of that (the budget not a multiple of ``pop_size``) takes the number
    of the snapshot it falls short of."""
    return (inserted - 1) // pop_size


class SteadyStatePopulation:
    """A population kept as its non-dominated fronts, updated one insertion at a time.

    LEAP's ENLU insertion (Li et al., IEEE Trans. Cybern. 47(9), 2017) places the
    newcomer; the fronts from its own on are then re-ranked (:meth:`_resort_from`) and
    their crowding distances recomputed.
    Ranks are 1-based, as LEAP's full sort gives them.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.fronts: list[list[Individual]] = []

    @classmethod
    def restored(cls, size: int, population: Sequence[Individual]) -> SteadyStatePopulation:
        """From a recorded population (fronts in order, as :attr:`members` lists them)."""
        restored = cls(size)
        for ind in population:
            if not restored.fronts or restored.fronts[-1][0].rank != ind.rank:
                restored.fronts.append([])
            restored.fronts[-1].append(ind)
        return restored

    @property
    def members(self) -> list[Individual]:
        return [ind for front in self.fronts for ind in front]

    def __len__(self) -> int:
        return sum(len(front) for front in self.fronts)

    def insert(self, newcomer: Individual) -> None:
        # Here, not at the top: LEAP's module imports Dask's distributed (0.25 s of CPU),
        # which hpo-run needs only once it launches on Dask, not to check a spec.
        from leap_ec.multiobjective.asynchronous import enlu_inds_rank

        first, _ = enlu_inds_rank(newcomer, self.fronts)
        self._resort_from(first)
        for front in self.fronts[first:]:
            per_rank_crowding_calc(front, front[0].problem.maximize)
        if len(self) > self.size:
            # NSGA-II's truncation, one at a time: the most crowded of the worst front.
            worst = self.fronts[-1]
            worst.pop(min(range(len(worst)), key=lambda i: worst[i].distance))
            if worst:
                per_rank_crowding_calc(worst, worst[0].problem.maximize)
            else:
                self.fronts.pop()


    def _resort_from(self, first: int) -> None:
        """Rank the fronts from ``first`` on (the newcomer's and those below) afresh.

        LEAP 0.8.2's ENLU cascade can push a member one front too far: inserting
        (0, 0, 1) above (MAXINT, 1, 1) whose front-mates (MAXINT, 0, MAXINT) and
        (0, MAXINT, 1) it dominates moved (MAXINT, 1, 1) to front 4, where a full sort
        says 3 (tests/steady_state/test_incremental_ranking.py found it).  The fronts
        above ``first`` cannot change (nothing there is dominated by the newcomer), so
        the members from ``first`` on are re-ranked with moocore, keeping ENLU's order
        within each front: where ENLU was right the fronts come out exactly as it left them.
        """
        tail = [ind for front in self.fronts[first:] for ind in front]
        if not tail:
            return
        ranks = pareto_ranks(tail)
        fronts: list[list[Individual]] = [[] for _ in range(int(ranks.max()) + 1)]
        for ind, rank in zip(tail, ranks):
            ind.rank = first + int(rank) + 1
            fronts[int(rank)].append(ind)
        self.fronts[first:] = fronts


def _snapshot_state(rng: np.random.Generator, inserted: int, study: Study) -> dict[str, Any]:
    pending = [[t.birth_id, t.generation, list(t.genome)] for t in study.in_flight()]
    return {"rng": rng.bit_generator.state, "inserted": inserted, "pending": pending}


def steady_state_nsga2(study: Study, rng: np.random.Generator, *, pop_size: int, max_births: int,
                       initial: list[list[float]], in_flight: int | None, sigma_decay: float,
                       checkpoint: Checkpoint | None = None,
                       variation: Breeding = PAPER_MUTATION) -> list[Member]:
    """Run until ``max_births`` evaluations are inserted; return the final population.

    ``initial`` (generation 0) is sent first; ``in_flight`` evaluations are kept pending
    (``None``: as many as the engine runs at once, re-read after each result and every
    :data:`CAPACITY_POLL_S` while waiting, as workers come and go).  ``variation`` breeds
    the offspring, as in :func:`.algorithm.nsga2`.
    """
    problem = TrainedProblem(study.n_objectives)
    breed = partial(variation.operators, rng, study.space.bounds, decode=study.space.decode)
    sigmas = np.array(study.space.sigmas, dtype=float)

    if checkpoint is None:
        population = SteadyStatePopulation(pop_size)
        inserted = 0
    else:
        population = SteadyStatePopulation.restored(pop_size, as_individuals(checkpoint.population, problem))
        rng.bit_generator.state = checkpoint.state["rng"]
        inserted = int(checkpoint.state["inserted"])
        for birth_id, generation, genome in checkpoint.state["pending"]:
            study.submit(genome, generation, birth_id=birth_id, sent_after=study.recorded_sent_after(birth_id))
    unsent = list(initial[study.births:max_births])  # generation 0 is the first births

    def due(inserted: int) -> bool:
        """Whether the next birth is to be sent now.  One the journal holds from before a
        resume goes when the interrupted run sent it, after as many insertions: bred from
        the same population, it is the same offspring, and its record is reused.  The
        engine's capacity may differ now (Parsl counts no worker until its pool connects,
        workers may have come or gone), and topping up to it would breed other offspring
        and train again evaluations that had finished."""
        if study.births >= max_births:
            return False
        recorded = study.recorded_sent_after(study.births)
        if recorded is not None:
            return inserted >= recorded
        return study.pending < (in_flight or max(1, study.capacity))

    def send(inserted: int) -> None:
        """Top the pending evaluations up: generation 0 first, then one offspring each."""
        while due(inserted):
            if unsent:
                study.submit(unsent.pop(0), generation=0, sent_after=inserted)
                continue
            if not len(population):
                # More in flight than pop_size, and no result back yet: nothing to breed
                # from, so another random genome, of generation 0 too (LEAP's init_pop_size
                # random individuals), drawn from the run's generator: a resume draws it again.
                study.submit(random_genomes(rng, study, 1)[0], generation=0, sent_after=inserted)
                continue
            # Bred after snapshot g - 1: generation g, as nsga2's offspring of that population.
            generation = offspring_generation(inserted, pop_size)
            std = sigmas * sigma_decay ** (generation - 1)  # as generation g of nsga2
            # Not a copy of a member nor of an evaluation in flight (its siblings).
            pending = [t.genome for t in study.in_flight()]
            child = next(toolz.pipe(population.members, *breed(std, pending=pending)))
            study.submit(child.genome, generation, sent_after=inserted)

    send(inserted)
    while study.pending:
        # While births remain and the number in flight follows the engine, look again every
        # CAPACITY_POLL_S for workers that joined (Parsl blocks, dask workers started late):
        # else they would idle until the next training returns, hours on a cluster.
        growing = in_flight is None and study.births < max_births
        evaluation = study.next_finished(timeout=CAPACITY_POLL_S if growing else None)
        if evaluation is None:
            send(inserted)
            continue
        population.insert(individual(evaluation, problem))
        inserted += 1
        send(inserted)
        if inserted % pop_size == 0 or not study.pending:
            study.generation_finished(snapshot_number(inserted, pop_size), as_members(population.members),
                                      _snapshot_state(rng, inserted, study))
    return as_members(population.members)
