"""Non-dominated sorting at scale: LEAP, pymoo and moocore, 10^2 to 10^5 points.

Contenders (all minimisation, random points uniform in the unit cube, and a second
set with many ties on a coarse grid; every result is checked against moocore's ranks):

* ``leap-rank-ordinal``: ``leap_ec.multiobjective.ops.rank_ordinal_sort`` (what the
  nsga2 plugin uses, on LEAP individuals);
* ``leap-fast-nds``: ``leap_ec.multiobjective.ops.fast_nondominated_sort``, O(M N^2):
  only up to ``--fast-nds-max`` points (default 1000: 7 s there, pure Python);
* ``pymoo``: ``NonDominatedSorting().do(F, return_rank=True)`` (pymoo's default
  method, compiled if pymoo's extensions are built);
* ``moocore``: ``moocore.pareto_rank(F)``.

Timings are the best of ``--repeats`` runs (the machine is shared).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from .common import machine, write_result

SIZES = (100, 1_000, 10_000, 100_000)


def leap_sort(kind: str, F: np.ndarray) -> np.ndarray:
    from leap_ec.decoder import IdentityDecoder
    from leap_ec.individual import Individual
    from leap_ec.multiobjective.ops import fast_nondominated_sort, rank_ordinal_sort

    from dnnp_hpo.plugins.nsga2.algorithm import TrainedProblem

    problem = TrainedProblem(F.shape[1])
    population = []
    for f in F:
        ind = Individual(np.zeros(1), IdentityDecoder(), problem)
        ind.fitness = f
        population.append(ind)
    start = time.perf_counter()
    out = (rank_ordinal_sort if kind == "rank-ordinal" else fast_nondominated_sort)(population)
    elapsed = time.perf_counter() - start
    ranks = np.array([ind.rank for ind in population])
    del out
    return ranks, elapsed


def timed(name: str, F: np.ndarray):
    if name.startswith("leap-"):
        return leap_sort(name[5:].replace("fast-nds", "fast"), F)
    start = time.perf_counter()
    if name == "pymoo":
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        _, rank = NonDominatedSorting().do(F, return_rank=True)
        ranks = np.asarray(rank) + 1
    else:
        import moocore

        ranks = np.asarray(moocore.pareto_rank(F)) + 1
    return ranks, time.perf_counter() - start


def points(n: int, m: int, ties: bool, rng) -> np.ndarray:
    F = rng.random((n, m))
    return np.round(F * 20) / 20 if ties else F


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=list(SIZES))
    parser.add_argument("--objectives", type=int, nargs="*", default=[2, 3])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--fast-nds-max", type=int, default=1000)
    parser.add_argument("--contenders", nargs="*", default=["leap-rank-ordinal", "leap-fast-nds", "pymoo", "moocore"])
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    rows = []
    for m in args.objectives:
        for n in args.sizes:
            for ties in (False, True):
                F = points(n, m, ties, rng)
                reference = np.asarray(__import__("moocore").pareto_rank(F)) + 1
                for name in args.contenders:
                    if name == "leap-fast-nds" and n > args.fast_nds_max:
                        continue
                    best, correct = np.inf, True
                    for _ in range(1 if name == "leap-fast-nds" or n >= 100_000 else args.repeats):
                        ranks, elapsed = timed(name, F)
                        best = min(best, elapsed)
                        correct = correct and bool(np.array_equal(ranks, reference))
                    rows.append({"objectives": m, "points": n, "ties": ties, "contender": name,
                                 "seconds": best, "correct": correct})
                    print(f"m={m} n={n:6d} ties={ties!s:5s} {name:18s} {best:9.4f} s "
                          f"{'ok' if correct else 'WRONG RANKS'}", flush=True)
    payload = {"benchmark": "sorting", "machine": machine(), "repeats": args.repeats,
               "fast_nds_max": args.fast_nds_max, "rows": rows}
    write_result("sorting", payload)
    return payload


if __name__ == "__main__":
    main()
