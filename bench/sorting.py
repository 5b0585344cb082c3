"""Non-dominated sorting at scale: LEAP, pymoo and moocore, 10^2 to 10^5 points.

Contenders (all minimisation, random points uniform in the unit cube, and a second
set with many ties on a coarse grid; every contender's ranks are compared with
moocore's, and a difference is reported as wrong):

* ``nsga2-plugin``: ``dnnp_hpo.plugins.nsga2.algorithm.pareto_rank_sort``, the sort the
  nsga2 plugin uses (moocore on LEAP individuals, the copy of the fitnesses included);
* ``leap-rank-ordinal``: ``leap_ec.multiobjective.ops.rank_ordinal_sort`` (the sort of
  the paper's Listing 1, on LEAP individuals);
* ``leap-fast-nds``: ``leap_ec.multiobjective.ops.fast_nondominated_sort``, O(M N^2):
  only up to ``--fast-nds-max`` points (default 1000: 7 s there, pure Python);
* ``pymoo``: ``NonDominatedSorting().do(F, return_rank=True)`` (pymoo's default
  method, compiled if pymoo's extensions are built);
* ``moocore``: ``moocore.pareto_rank(F)`` on the bare array.

Also the steady-state optimizer's cost per evaluation: ``nsga2-async`` inserts each
result into a population of ``pop_size`` (``SteadyStatePopulation.insert``: LEAP's ENLU,
the re-rank of the fronts from the newcomer's on, crowding, truncation), timed as the
mean over ``--insertions`` insertions into a full population, next to the alternative:
a full NSGA-II selection of the population plus the newcomer (``survivors``: sort,
crowding, truncation), as generational ``nsga2`` does it once per generation.

Timings are the best of ``--repeats`` runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import numpy as np

from .common import machine, write_result

SIZES = (100, 1_000, 10_000, 100_000)


def individuals(F: np.ndarray) -> list:
    from leap_ec.decoder import IdentityDecoder
    from leap_ec.individual import Individual

    from dnnp_hpo.plugins.nsga2.algorithm import TrainedProblem

    problem = TrainedProblem(F.shape[1])
    population = []
    for f in F:
        ind = Individual(np.zeros(1), IdentityDecoder(), problem)
        ind.fitness = f
        population.append(ind)
    return population


def on_individuals(sort: Callable[[list], list]) -> Callable[[np.ndarray], tuple[np.ndarray, float]]:
    """Time ``sort`` on LEAP individuals (built before the clock starts); 1-based ranks."""

    def run(F: np.ndarray) -> tuple[np.ndarray, float]:
        population = individuals(F)
        start = time.perf_counter()
        sort(population)
        elapsed = time.perf_counter() - start
        return np.array([ind.rank for ind in population]), elapsed

    return run


def on_array(sort: Callable[[np.ndarray], np.ndarray]) -> Callable[[np.ndarray], tuple[np.ndarray, float]]:
    """Time ``sort`` on the bare array of fitnesses; 0-based ranks made 1-based."""

    def run(F: np.ndarray) -> tuple[np.ndarray, float]:
        start = time.perf_counter()
        ranks = np.asarray(sort(F)) + 1
        return ranks, time.perf_counter() - start

    return run


def _plugin(population):
    from dnnp_hpo.plugins.nsga2.algorithm import pareto_rank_sort

    return pareto_rank_sort(population)


def _leap(kind: str):
    def sort(population):
        from leap_ec.multiobjective import ops

        return getattr(ops, kind)(population)

    return sort


def _pymoo(F):
    from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

    return NonDominatedSorting().do(F, return_rank=True)[1]


def _moocore(F):
    import moocore

    return moocore.pareto_rank(F)


# name -> timed sort; add a row here to benchmark another sort.
CONTENDERS: dict[str, Callable[[np.ndarray], tuple[np.ndarray, float]]] = {
    "nsga2-plugin": on_individuals(_plugin),
    "leap-rank-ordinal": on_individuals(_leap("rank_ordinal_sort")),
    "leap-fast-nds": on_individuals(_leap("fast_nondominated_sort")),
    "pymoo": on_array(_pymoo),
    "moocore": on_array(_moocore),
}
#: a sort that takes longer than this is timed once: the machine's noise is a small share of it
ONCE_S = 1.0
SLOW = {"leap-fast-nds"}  # O(M N^2) in pure Python: capped at --fast-nds-max points


INSERTION_SIZES = (100, 1_000)


def insertion_cost(m: int, n: int, count: int, rng) -> dict:
    """Mean seconds per ``SteadyStatePopulation.insert`` into a full population of ``n``."""
    from dnnp_hpo.plugins.nsga2.algorithm import survivors
    from dnnp_hpo.plugins.nsga2.asynchronous import SteadyStatePopulation

    population = SteadyStatePopulation(n)
    for ind in individuals(rng.random((n, m))):
        population.insert(ind)
    newcomers = individuals(rng.random((count, m)))
    start = time.perf_counter()
    for ind in newcomers:
        population.insert(ind)
    per_insert = (time.perf_counter() - start) / count
    newcomers = individuals(rng.random((count, m)))
    start = time.perf_counter()
    for ind in newcomers:
        survivors([ind], population.members, n)
    full = (time.perf_counter() - start) / count
    return {"objectives": m, "pop_size": n, "insertions": count, "seconds_per_insert": per_insert,
            "full_selection_seconds": full, "fronts": len(population.fronts)}


def points(n: int, m: int, ties: bool, rng) -> np.ndarray:
    F = rng.random((n, m))
    return np.round(F * 20) / 20 if ties else F


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--objectives", type=int, nargs="*", default=[2, 3])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fast-nds-max", type=int, default=1000)
    parser.add_argument("--contenders", nargs="*", default=list(CONTENDERS), choices=list(CONTENDERS))
    parser.add_argument("--insertion-sizes", type=int, nargs="*", default=list(INSERTION_SIZES))
    parser.add_argument("--insertions", type=int, default=500)
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    for m in args.objectives:
        for n in args.sizes:
            for ties in (False, True):
                F = points(n, m, ties, rng)
                reference = np.asarray(_moocore(F)) + 1
                for name in args.contenders:
                    if name in SLOW and n > args.fast_nds_max:
                        continue
                    best, correct = np.inf, True
                    for _ in range(args.repeats):
                        ranks, elapsed = CONTENDERS[name](F)
                        best = min(best, elapsed)
                        correct = correct and bool(np.array_equal(ranks, reference))
                        if elapsed > ONCE_S:
                            break
                    rows.append({"objectives": m, "points": n, "ties": ties, "contender": name,
                                 "seconds": best, "correct": correct})
                    print(f"m={m} n={n:6d} ties={ties!s:5s} {name:18s} {best:9.4f} s "
                          f"{'ok' if correct else 'WRONG RANKS'}", flush=True)
    insertion = []
    for m in args.objectives:
        for n in args.insertion_sizes:
            insertion.append(insertion_cost(m, n, args.insertions, rng))
            print(f"m={m} pop_size={n:5d} insert {insertion[-1]['seconds_per_insert'] * 1e3:.2f} ms", flush=True)
    payload = {"benchmark": "sorting", "machine": machine(), "repeats": args.repeats, "once_s": ONCE_S,
               "fast_nds_max": args.fast_nds_max, "rows": rows, "insertion": insertion}
    write_result("sorting", payload)
    return payload


if __name__ == "__main__":
    main()
