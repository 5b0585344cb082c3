"""Optimizer quality at equal budgets: hypervolume of the final population.

Problems ZDT1, ZDT2, ZDT3 (7 variables) and DTLZ2 (7 variables, 2 objectives), all
evaluated with ``dnnp_hpo.problems`` (the ``function`` trainer's callables) for every
contender.  Budgets: the paper's (population 100, generation 0 + 6 = 700 evaluations)
and a small one (population 20, generation 0 + 10 = 220 evaluations).

Contenders (:data:`CONTENDERS`), all with the same number of evaluations:

* ``nsga2-paper``: our nsga2 plugin, ``variation: paper`` (the seed paper's operators,
  sigma 10% of each range, decay 0.85), driven in-process (see :mod:`bench.inprocess`);
* ``nsga2-sbx``: our nsga2 plugin, ``variation: sbx`` (Deb's operators, the spec's
  default rates);
* ``nsga2-sbx-tuned``: our nsga2 plugin, ``variation: sbx-tuned`` (rates chosen by
  :mod:`bench.tune` on seeds 100-130, never on the seeds reported here);
* ``nsga2-sbx-steady``: our nsga2 plugin, ``variation: sbx-steady``, the default of
  nsga2 and nsga2-async (``sbx-tuned`` with a tournament of 4 and SBX eta 30; rates
  chosen by ``bench.tune --steady``, the default by ``bench.tune --presets``);
* ``pymoo``: ``pymoo.algorithms.moo.nsga2.NSGA2`` with its defaults;
* ``optuna``: ``optuna.samplers.NSGAIISampler`` with its defaults (population as above);
* ``random``: uniform random search.

Metric: hypervolume (moocore) with reference point (1.1, 1.1) of the final population;
for Optuna and random search, which keep no population, of the non-dominated set of all
their evaluations (``study.best_trials``; at these budgets it holds fewer points than the
population size).  Points not dominating the reference point add nothing.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings
from collections.abc import Callable

import attrs
import numpy as np

from dnnp_hpo import problems
from dnnp_hpo.plugins.nsga2 import NSGA2

from .common import machine, summary, write_result
from .inprocess import function_spec, run_inprocess

N_VAR = 7
REF = (1.1, 1.1)
PROBLEMS = ("zdt1", "zdt2", "zdt3", "dtlz2")
BUDGETS = {"paper": (100, 6), "small": (20, 10)}  # (population, generations after gen 0)


def hypervolume(points) -> float:
    import moocore

    f = np.asarray(points, dtype=float).reshape(-1, 2)
    f = f[np.all(f < np.asarray(REF), axis=1)]
    return float(moocore.hypervolume(f, ref=np.asarray(REF))) if len(f) else 0.0


def evaluate(problem: str, x) -> tuple[float, float]:
    return getattr(problems, problem)({f"x{i}": float(v) for i, v in enumerate(x)})


def run_ours(problem: str, variation: str, pop: int, gens: int, seed: int):
    return run_inprocess(function_spec(problem, N_VAR, 2, {
        "pop_size": pop, "generations": gens, "variation": variation}, seed))  # paper: sigma_decay 0.85


def nsga2_preset(variation: str) -> Callable[[str, int, int, int], tuple[list, int]]:
    """Our nsga2 plugin with ``variation``, as a contender."""

    def run(problem: str, pop: int, gens: int, seed: int):
        return run_ours(problem, variation, pop, gens, seed), pop * (gens + 1)

    return run


def run_pymoo(problem: str, pop: int, gens: int, seed: int):
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.core.problem import ElementwiseProblem
    from pymoo.optimize import minimize

    class Wrapped(ElementwiseProblem):
        def __init__(self):
            super().__init__(n_var=N_VAR, n_obj=2, xl=0.0, xu=1.0)

        def _evaluate(self, x, out, *args, **kwargs):
            out["F"] = list(evaluate(problem, x))

    res = minimize(Wrapped(), NSGA2(pop_size=pop), ("n_gen", gens + 1), seed=seed, verbose=False)
    return res.pop.get("F").tolist(), int(res.algorithm.evaluator.n_eval)


def run_optuna(problem: str, pop: int, gens: int, seed: int):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.NSGAIISampler(population_size=pop, seed=seed)
    study = optuna.create_study(directions=["minimize", "minimize"], sampler=sampler)

    def objective(trial):
        return evaluate(problem, [trial.suggest_float(f"x{i}", 0.0, 1.0) for i in range(N_VAR)])

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        study.optimize(objective, n_trials=pop * (gens + 1))
    return [t.values for t in study.best_trials], len(study.trials)


def run_random(problem: str, pop: int, gens: int, seed: int):
    rng = np.random.default_rng(seed)
    x = rng.random((pop * (gens + 1), N_VAR))
    return [evaluate(problem, xi) for xi in x], len(x)


# name -> run(problem, pop_size, generations, seed) -> (final points, evaluations used).
# Add a row to add a contender; the report lists them in this order.
CONTENDERS: dict[str, Callable[[str, int, int, int], tuple[list, int]]] = {
    "nsga2-paper": nsga2_preset("paper"),
    "nsga2-sbx": nsga2_preset("sbx"),
    "nsga2-sbx-tuned": nsga2_preset("sbx-tuned"),
    "nsga2-sbx-steady": nsga2_preset("sbx-steady"),
    "pymoo": run_pymoo,
    "optuna": run_optuna,
    "random": run_random,
}
# Our best preset, the one the goal is about: nsga2's default (chosen by bench.tune --presets).
BEST = f"nsga2-{attrs.fields_dict(NSGA2)['variation'].default}"
PEERS = ("pymoo", "optuna")


def one(contender: str, problem: str, pop: int, gens: int, seed: int) -> tuple[float, int, float]:
    start = time.perf_counter()
    points, n_eval = CONTENDERS[contender](problem, pop, gens, seed)
    return hypervolume(points), n_eval, time.perf_counter() - start


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=11)
    parser.add_argument("--problems", nargs="*", default=list(PROBLEMS))
    parser.add_argument("--contenders", nargs="*", default=list(CONTENDERS), choices=list(CONTENDERS))
    parser.add_argument("--budgets", nargs="*", default=list(BUDGETS))
    args = parser.parse_args(argv)
    logging.getLogger("optuna").setLevel(logging.WARNING)
    info = machine()
    rows = []
    for budget in args.budgets:
        pop, gens = BUDGETS[budget]
        for problem in args.problems:
            for contender in args.contenders:
                hvs, seconds, evals = [], [], set()
                for seed in range(args.seeds):
                    hv, n_eval, dt = one(contender, problem, pop, gens, seed)
                    hvs.append(hv)
                    seconds.append(dt)
                    evals.add(n_eval)
                row = {"budget": budget, "pop_size": pop, "generations": gens, "problem": problem,
                       "contender": contender, "evaluations": sorted(evals), "hv": hvs,
                       "seconds": seconds, **summary(hvs)}
                rows.append(row)
                print(f"{budget:5s} {problem:5s} {contender:12s} evals={sorted(evals)} "
                      f"HV median {row['median']:.4f} IQR [{row['q1']:.4f}, {row['q3']:.4f}] "
                      f"({sum(seconds):.1f} s)", flush=True)
    payload = {"benchmark": "quality", "machine": info, "seeds": args.seeds, "reference_point": REF,
               "n_var": N_VAR, "contenders": list(args.contenders), "best": BEST, "peers": list(PEERS),
               "rows": rows}
    write_result("quality", payload)
    return payload


if __name__ == "__main__":
    main()
