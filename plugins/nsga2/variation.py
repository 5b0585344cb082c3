"""Deb's NSGA-II variation operators as LEAP pipeline operators, on the optimizer's generator.

The paper's reproduction pipeline (random parent, clone, isotropic Gaussian mutation with
annealed sigmas) is kept as it is in :mod:`.algorithm` (``variation: paper``).  The
operators here make the ``sbx``, ``sbx-tuned`` and ``sbx-steady`` presets, the
reproduction of Deb et al.'s NSGA-II (IEEE TEC 6(2), 2002) as pymoo and Deb's C code
implement it:

* :func:`tournament_selection`: tournament on (rank, crowding distance), binary as
  Deb's (``sbx-steady``: of 4, for the steady-state loop);
* :func:`sbx_crossover`: simulated binary crossover, bounded form (Deb & Agrawal 1995,
  Deb's ``nsga2-v1.1``), each gene of a pair crossed with probability ``p_variable``
  (0.5 in ``sbx``, as Deb's; 1 in ``sbx-tuned``);
* :func:`polynomial_mutation`: bounded polynomial mutation (Deb & Goyal 1996);
* :class:`Duplicates`: pymoo's duplicate elimination (``sbx-tuned``, ``sbx-steady``).

Every random number comes from the ``numpy.random.Generator`` passed in, never from the
process-wide generators, so a run depends on its seed alone.  Each operator takes and
gives an iterator of LEAP individuals, so the generation loop reads like Listing 1::

    toolz.pipe(parents, tournament_selection(rng), ops.clone,
               sbx_crossover(rng, bounds), polynomial_mutation(rng, bounds),
               evaluate_pool(study, size=pop_size, generation=g))
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
from leap_ec.individual import Individual

EPS = 1.0e-14


def _bounds(bounds: Sequence[tuple[float, float]]) -> tuple[np.ndarray, np.ndarray]:
    low, high = np.array(bounds, dtype=float).T
    return low, high


def _better(a: Individual, b: Individual) -> bool:
    """Crowded comparison: lower rank wins, then larger crowding distance."""
    return (a.rank, -a.distance) < (b.rank, -b.distance)


def tournament_selection(rng: np.random.Generator, size: int = 2):
    """Tournament of ``size`` (binary by default) on (rank, crowding distance), forever:
    the best of ``size`` members drawn with replacement; ties go to the first drawn.

    The parents must carry ``rank`` and ``distance`` (they do after the NSGA-II sort).
    """

    def operator(population: list[Individual]) -> Iterator[Individual]:
        n = len(population)
        while True:
            drawn = [population[int(i)] for i in rng.integers(n, size=size)]
            winner = drawn[0]
            for challenger in drawn[1:]:
                if _better(challenger, winner):
                    winner = challenger
            yield winner

    return operator


def sbx_pair(rng: np.random.Generator, y1: np.ndarray, y2: np.ndarray, low: np.ndarray, high: np.ndarray,
             eta: float, p_variable: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """Two children of genomes ``y1`` and ``y2`` by bounded SBX (the pair always crosses).

    Genes are crossed with probability ``p_variable`` each (when they differ); the two
    children of a crossed gene are swapped with probability 0.5.  Far from the bounds,
    the children of a gene are symmetric about the parents' mean.
    """
    # Parents outside the bounds (a run resumed with --force on narrower bounds) would give
    # SBX a negative spread factor and NaN children: they are bred as if on the nearest bound.
    y1, y2 = np.clip(np.asarray(y1, dtype=float), low, high), np.clip(np.asarray(y2, dtype=float), low, high)
    c1, c2 = y1.copy(), y2.copy()
    n = len(c1)
    # Draw everything up front, in a fixed order: the stream does not depend on the genes.
    cross = rng.random(n) < p_variable
    u = rng.random(n)
    swap = rng.random(n) < 0.5
    for i in range(n):
        if not cross[i] or abs(y1[i] - y2[i]) <= EPS:
            continue
        a, b = min(y1[i], y2[i]), max(y1[i], y2[i])
        lo, hi = low[i], high[i]
        span = b - a
        out = []
        for beta in (1.0 + 2.0 * (a - lo) / span, 1.0 + 2.0 * (hi - b) / span):
            alpha = 2.0 - beta ** -(eta + 1.0)
            if u[i] <= 1.0 / alpha:
                betaq = (u[i] * alpha) ** (1.0 / (eta + 1.0))
            else:
                betaq = (1.0 / (2.0 - u[i] * alpha)) ** (1.0 / (eta + 1.0))
            out.append(betaq)
        child_low = 0.5 * ((a + b) - out[0] * span)
        child_high = 0.5 * ((a + b) + out[1] * span)
        child_low, child_high = min(max(child_low, lo), hi), min(max(child_high, lo), hi)
        if swap[i]:
            child_low, child_high = child_high, child_low
        c1[i], c2[i] = child_low, child_high
    return c1, c2


def sbx_crossover(rng: np.random.Generator, bounds: Sequence[tuple[float, float]], eta: float = 15.0,
                  p_crossover: float = 0.9, p_variable: float = 0.5):
    """Pull two (cloned) individuals, cross them with probability ``p_crossover``, yield both."""
    low, high = _bounds(bounds)

    def operator(next_individual: Iterator[Individual]) -> Iterator[Individual]:
        while True:
            first, second = next(next_individual), next(next_individual)
            crosses = rng.random() < p_crossover
            if crosses:
                first.genome, second.genome = sbx_pair(rng, np.asarray(first.genome),
                                                       np.asarray(second.genome), low, high, eta, p_variable)
                first.fitness = second.fitness = None
            yield first
            yield second

    return operator


def polynomial_mutate(rng: np.random.Generator, y: np.ndarray, low: np.ndarray, high: np.ndarray,
                      eta: float, p_gene: float) -> np.ndarray:
    """Bounded polynomial mutation of one genome: each gene mutates with probability ``p_gene``."""
    y = np.clip(np.asarray(y, dtype=float), low, high)  # as in sbx_pair: NaN from a gene outside
    n = len(y)
    mutate = rng.random(n) < p_gene
    u = rng.random(n)
    power = 1.0 / (eta + 1.0)
    for i in np.flatnonzero(mutate):
        lo, hi = low[i], high[i]
        span = hi - lo
        if span <= 0:
            continue
        d1, d2 = (y[i] - lo) / span, (hi - y[i]) / span
        if u[i] < 0.5:
            val = 2.0 * u[i] + (1.0 - 2.0 * u[i]) * (1.0 - d1) ** (eta + 1.0)
            deltaq = val ** power - 1.0
        else:
            val = 2.0 * (1.0 - u[i]) + 2.0 * (u[i] - 0.5) * (1.0 - d2) ** (eta + 1.0)
            deltaq = 1.0 - val ** power
        y[i] = min(max(y[i] + deltaq * span, lo), hi)
    return y


def polynomial_mutation(rng: np.random.Generator, bounds: Sequence[tuple[float, float]], eta: float = 20.0,
                        p_gene: float | None = None):
    """Mutate each individual's genes with probability ``p_gene`` (default 1/genome length)."""
    low, high = _bounds(bounds)
    p = 1.0 / len(low) if p_gene is None else p_gene

    def operator(next_individual: Iterator[Individual]) -> Iterator[Individual]:
        for individual in next_individual:
            individual.genome = polynomial_mutate(rng, individual.genome, low, high, eta, p)
            individual.fitness = None
            yield individual

    return operator


class Duplicates:
    """pymoo's duplicate elimination as two pipeline operators around the breeding ones.

    ``remember`` (first in the pipeline) notes the parents' candidates and passes the
    population on; ``drop`` (last) skips any offspring that equals a parent, a ``pending``
    candidate (the steady state's evaluations in flight: its siblings) or an earlier
    offspring of the same pipeline, so the breeding operators are pulled again.  A
    duplicate costs a whole training and tells nothing new; at small populations, where
    SBX often leaves a gene unchanged and clipping puts genes on a bound, they are common.
    Candidates are compared as the trainer sees them (``decode``: genes of an int or a
    choice parameter that differ inside one value's bin are the same training), else by
    their genes.  After ``patience`` duplicates in a row (a converged population, or a
    space too small to avoid them) the next one is let through, so the generation always
    fills.
    """

    def __init__(self, patience: int = 100, decode: Callable[[Sequence[float]], Mapping[str, Any]] | None = None,
                 pending: Iterable[Sequence[float]] = ()) -> None:
        self.patience = patience
        self.decode = decode
        self.pending = {self._key(genome) for genome in pending}
        self.seen: set[Hashable] = set()

    def _key(self, genome: Sequence[float]) -> Hashable:
        if self.decode is not None:
            # repr: a plugin's parameter type may decode to a list (layer widths)
            return repr(tuple(self.decode(genome).values()))
        return np.asarray(genome, dtype=float).tobytes()

    def _member_key(self, member: Individual) -> Hashable:
        """A population member's key, worked out once: the steady state breeds every
        offspring from the same members, and decoded each of them again at each birth
        (1.1 of the driver's 3.6 ms per birth at pop_size 200, helper-129).  Kept with the
        genome and decode it was worked out from: a clone (LEAP's copies its parent's
        attributes) has a genome of its own, so a key of its own."""
        cached = getattr(member, "duplicate_key", None)
        if cached is None or cached[0] is not member.genome or cached[1] != self.decode:
            cached = member.duplicate_key = (member.genome, self.decode, self._key(member.genome))
        return cached[2]

    def remember(self, population: list[Individual]) -> list[Individual]:
        self.seen = {self._member_key(ind) for ind in population} | self.pending
        return population

    def drop(self, next_individual: Iterator[Individual]) -> Iterator[Individual]:
        skipped = 0
        for individual in next_individual:
            key = self._key(individual.genome)
            if key in self.seen and skipped < self.patience:
                skipped += 1
                continue
            skipped = 0
            self.seen.add(key)
            yield individual
