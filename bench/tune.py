"""Tune the sbx pipeline's rates on seeds the table never shows: ``python -m bench.tune``.

Each candidate is a set of options of our nsga2's sbx pipeline (fields of
:class:`dnnp_hpo.plugins.nsga2.algorithm.SbxRates`, those left out at their defaults).  It runs on the quality
benchmark's problems and both budgets for the tuning seeds 100-130, next to pymoo and
Optuna on the same seeds; docs/benchmarks.md reports seeds 0-10, which no choice made
here looked at.  ZDT2 is left out: every contender scores 0 on it at these budgets.

Per cell (budget, problem): the candidate's median hypervolume relative to the better
peer's median, minus 1 (the margin).  Candidates are ranked by their smallest margin,
then their mean margin.  :func:`pick`: among those whose smallest margin is within
:data:`SLACK` of the best one (differences the seeds' noise makes), the largest mean
margin; that is ``sbx-tuned`` (the rule was written down after the pick, which it
reproduces).  ``sbx`` (the spec's default rates) and the textbook rates (pymoo's) are
in the list for comparison.  About 10 minutes on one core.

``python -m bench.tune --steady`` makes the other choice kept in the code: the options of
``sbx-steady``, nsga2-async's preset (:func:`steady_rates`: tournament size and rates,
the same rule against generational nsga2 at equal births).  It adds its rows to
bench/results/tuning.json under ``steady_rates``; section 5 of docs/benchmarks.md shows
them.  About 30 minutes on one core (``--jobs 2``: half).

``python -m bench.tune --presets`` makes the third: which named preset is ``nsga2``'s
default.  Each of ``sbx``, ``sbx-tuned`` and ``sbx-steady`` runs as the plugin runs it
(generational nsga2) on the same tuning seeds and is ranked by :func:`pick` against the
peers, as the candidates above; it adds ``presets`` to bench/results/tuning.json (about
half a minute).

``python -m bench.tune --pressure`` records why ``sbx-steady`` keeps a tournament of 4
(:func:`pressure`): larger tournaments make nsga2-async faster on ZDT1 and ZDT3 and
worse on DTLZ2.  It adds ``pressure`` (about 4 minutes with ``--jobs 2``).

``python -m bench.tune --initial`` records why nsga2-async sends all of generation 0
(``pop_size`` random genomes) before its first offspring, where LEAP's steady state
sends ``init_pop_size`` (one per worker) and breeds from the first result on
(:func:`initial`).  It adds ``initial`` (about 3 minutes with ``--jobs 2``).
"""

from __future__ import annotations

import argparse
import itertools
import time
from typing import Any, NamedTuple

import attrs
import numpy as np

from dnnp_hpo.plugins.nsga2.algorithm import SBX_STEADY, SBX_TUNED, SbxRates, nsga2, random_genomes
from dnnp_hpo.plugins.nsga2.asynchronous import steady_state_nsga2

from .common import machine, read_result, write_result
from .inprocess import function_spec, run_inprocess
from .quality import BUDGETS, N_VAR, PEERS, hypervolume, one

SEEDS = range(100, 131)
SLACK = 0.015
PROBLEMS = ("zdt1", "zdt3", "dtlz2")
#: the named presets ``--presets`` ranks (``variation: ...``; ``paper`` is kept for the paper, not ranked)
PRESETS = ("sbx", "sbx-tuned", "sbx-steady")


def candidates() -> dict[str, dict[str, Any]]:
    """The grid searched, plus the two references (the rows record them as these dicts)."""
    grid = {
        f"eta{ce}/pm-eta{me}/pm{mp}/{'dedup' if dd else 'no-dedup'}": {
            "crossover_eta": float(ce), "crossover_prob": 0.9, "crossover_gene_prob": 1.0,
            "mutation_eta": float(me), "mutation_prob": mp, "drop_duplicates": dd}
        for ce, me, mp, dd in itertools.product((10, 15, 20), (5, 7), (0.2, 0.3, 0.4), (False, True))
    }
    return {
        "sbx (spec defaults)": {},
        "textbook (pymoo's)": {"crossover_eta": 15.0, "crossover_gene_prob": 0.5, "mutation_eta": 20.0,
                               "mutation_prob": None, "drop_duplicates": True},
        **grid,
    }


def ranked(name: str, options: dict[str, Any] | None, medians: dict[str, float],
           margins: dict[str, float]) -> dict[str, Any]:
    """One candidate's row: its medians, margins and the two figures :func:`pick` ranks by."""
    row = {"name": name, "options": options, "medians": medians, "margins": margins,
           "min_margin": min(margins.values()), "mean_margin": float(np.mean(list(margins.values())))}
    print(f"{name:38s} min margin {row['min_margin']:+.3f} mean {row['mean_margin']:+.3f}  "
          + " ".join(f"{k}:{v:.3f}" for k, v in medians.items()), flush=True)
    return row


def by_margins(row: dict[str, Any]) -> tuple[float, float]:
    """Sort key of the rankings: the largest smallest margin first, then the largest mean."""
    return -row["min_margin"], -row["mean_margin"]


def pick(rows: list[dict[str, Any]], slack: float = SLACK) -> str:
    """The name of the candidate with the largest mean margin among those whose smallest
    margin is within ``slack`` of the best smallest margin."""
    best = max(r["min_margin"] for r in rows)
    return max((r for r in rows if r["min_margin"] >= best - slack), key=lambda r: r["mean_margin"])["name"]


def run_candidate(rates: SbxRates, problem: str, pop: int, gens: int, seed: int) -> float:
    """nsga2 with the sbx pipeline and ``rates``, exactly as the plugin's run() calls it."""

    def optimize(study):
        rng = np.random.default_rng(study.seed)
        initial = random_genomes(rng, study, pop)
        return nsga2(study, rng, pop, gens, 0.85, initial, variation=rates)

    spec = function_spec(problem, N_VAR, 2, {"pop_size": pop, "generations": gens, "variation": "sbx"}, seed)
    return hypervolume(run_inprocess(spec, optimize=optimize))


def steady_candidates() -> dict[str, dict[str, Any]]:
    """The grid searched for ``sbx-steady``: sbx-tuned's pipeline with the tournament size
    and the rates that matter most when every offspring is bred from the newest population."""
    return {
        f"t{t}/pm-eta{me}/pm{mp}/eta{ce}": {**attrs.asdict(SBX_TUNED), "tournament_size": t,
                                            "mutation_eta": float(me), "mutation_prob": mp, "crossover_eta": float(ce)}
        for t, me, mp, ce in itertools.product((2, 4, 8), (5, 10), (0.2, 0.3, 0.4), (15, 30))
    }


def steady_optimize(rates: SbxRates, pop: int, births: int, sent_random: int | None = None):
    """The ``optimize`` of nsga2-async with the sbx pipeline and ``rates`` (which no
    spec field sets), for :func:`bench.steady_state.simulate`.  ``sent_random``: how many
    random genomes are sent before the first offspring (None: the plugin's pop_size;
    ``--initial`` tries LEAP's, one per worker)."""

    def optimize(study):
        rng = np.random.default_rng(study.seed)
        initial = random_genomes(rng, study, pop)[:sent_random]  # drawn as the plugin draws them
        return steady_state_nsga2(study, rng, pop_size=pop, max_births=births, initial=initial,
                                  in_flight=None, sigma_decay=0.85, variation=rates)

    return optimize


def steady_job(problem: str, pop: int, gens: int, seed: int) -> tuple[str, dict[str, Any], int, int]:
    """The :func:`bench.steady_state.traced` job of :func:`steady_optimize` on 8 simulated
    workers (the race's lognormal times) for nsga2's budget."""
    from .steady_state import WORKERS

    return problem, {"pop_size": pop, "generations": gens, "variation": "sbx"}, seed, WORKERS


def run_steady(rates: SbxRates, problem: str, pop: int, gens: int, seed: int) -> float:
    """nsga2-async with ``rates`` (:func:`steady_job`): the final population's
    hypervolume at nsga2's budget."""
    from .steady_state import simulate

    job = steady_job(problem, pop, gens, seed)
    return hypervolume(simulate(*job, optimize=steady_optimize(rates, pop, pop * (gens + 1)))["population"])


def _steady_medians(job: tuple[dict[str, Any], range]) -> dict[str, float]:
    options, seeds = job
    return {f"{budget}/{problem}": float(np.median([run_steady(SbxRates(**options), problem, *BUDGETS[budget], s)
                                                    for s in seeds]))
            for budget in BUDGETS for problem in PROBLEMS}


def steady_rates(seeds: range, jobs: int = 1) -> dict[str, Any]:
    """The options of sbx-steady, chosen on ``seeds`` by :func:`pick`, the rule that chose
    sbx-tuned, with generational nsga2 (sbx-tuned) at equal births as the peer: the
    steady-state loop should be at least as good per birth everywhere, and better where it
    can."""
    from concurrent.futures import ProcessPoolExecutor

    baseline = {f"{budget}/{problem}": float(np.median(
        [run_candidate(SBX_TUNED, problem, *BUDGETS[budget], s) for s in seeds]))
        for budget in BUDGETS for problem in PROBLEMS}
    grid = steady_candidates()
    with ProcessPoolExecutor(jobs) as pool:
        all_medians = list(pool.map(_steady_medians, [(options, seeds) for options in grid.values()]))
    rows = [ranked(name, options, medians, {cell: m / baseline[cell] - 1.0 for cell, m in medians.items()})
            for (name, options), medians in zip(grid.items(), all_medians)]
    rows.sort(key=by_margins)
    return {"seeds": [seeds.start, seeds.stop - 1], "baseline": baseline, "rows": rows, "picked": pick(rows),
            "slack": SLACK}


#: tournament sizes ``--pressure`` compares (4 is sbx-steady's)
PRESSURES = (4, 8, 16)


class Variant(NamedTuple):
    """An nsga2-async run :func:`compare_steady` races: ``sbx-steady`` with this tournament,
    sending ``sent_random`` random genomes before the first offspring (None: pop_size)."""

    tournament: int
    sent_random: int | None = None


def _variant_cell(job: tuple[Variant | None, str, str, range]) -> dict[str, Any]:
    """One (variant, budget, problem) cell: each seed's final population hypervolume and
    best-so-far trace; variant ``None``: generational nsga2 with its default."""
    from .steady_state import WORKERS, traced

    variant, budget, problem, seeds = job
    pop, gens = BUDGETS[budget]
    if variant is None:
        runs = [traced((problem, {"plugin": "nsga2", "pop_size": pop, "generations": gens}, s, WORKERS))
                for s in seeds]
    else:
        optimize = steady_optimize(attrs.evolve(SBX_STEADY, tournament_size=variant.tournament), pop,
                                   pop * (gens + 1), variant.sent_random)
        runs = [traced(steady_job(problem, pop, gens, s), optimize) for s in seeds]
    return {"hv": [r["population_hv"] for r in runs], "traces": [r["trace"] for r in runs]}


def compare_steady(variants: dict[str, Variant], seeds: range, jobs: int = 1) -> list[dict[str, Any]]:
    """Each variant of nsga2-async on 8 simulated workers against generational nsga2 (its
    default, the first row, named None): the race's speed-up to 90% of nsga2's median final
    hypervolume on ZDT1 and ZDT3, and the median final population hypervolume on every
    problem."""
    from concurrent.futures import ProcessPoolExecutor

    from .steady_state import reach_median, time_to

    cells = [(budget, problem) for budget in BUDGETS for problem in PROBLEMS]
    named: dict[str | None, Variant | None] = {None: None, **variants}
    jobs_list = [(name, budget, problem) for name in named for budget, problem in cells]
    with ProcessPoolExecutor(jobs) as pool:
        results = dict(zip(jobs_list, pool.map(_variant_cell, [(named[n], b, p, seeds) for n, b, p in jobs_list])))
    rows = []
    for name in named:
        row: dict[str, Any] = {"name": name, "final_hv": {}, "speedup_90": {}}
        for budget, problem in cells:
            cell, base = results[(name, budget, problem)], results[(None, budget, problem)]
            row["final_hv"][f"{budget}/{problem}"] = float(np.median(cell["hv"]))
            if problem.startswith("zdt"):
                target = 0.9 * float(np.median([trace[1][-1] for trace in base["traces"]]))
                times = [reach_median([time_to(target, trace) for trace in c["traces"]]) for c in (base, cell)]
                row["speedup_90"][f"{budget}/{problem}"] = times[0] / times[1]
        rows.append(row)
    return rows


def pressure(seeds: range, jobs: int = 1) -> dict[str, Any]:
    """What more selection pressure does to nsga2-async: sbx-steady with a tournament of
    each of :data:`PRESSURES` (:func:`compare_steady`).  Not a choice: the record of why
    sbx-steady keeps 4 (docs/benchmarks.md, section 5)."""
    rows = compare_steady({str(t): Variant(t) for t in PRESSURES}, seeds, jobs)
    for row in rows:
        row["tournament"] = None if row["name"] is None else int(row.pop("name"))
        row.pop("name", None)
    return {"seeds": [seeds.start, seeds.stop - 1], "rows": rows}


def initial(seeds: range, jobs: int = 1) -> dict[str, Any]:
    """Why nsga2-async sends generation 0's pop_size random genomes before its first
    offspring, where LEAP's steady state sends init_pop_size (one per worker) and breeds
    from the first result on (:func:`compare_steady`).  Not a choice made here: the record
    of one made earlier (docs/benchmarks.md, section 5)."""
    from .steady_state import WORKERS

    variants = {"pop_size": Variant(SBX_STEADY.tournament_size),
                "workers": Variant(SBX_STEADY.tournament_size, WORKERS)}
    return {"seeds": [seeds.start, seeds.stop - 1], "workers": WORKERS,
            "rows": compare_steady(variants, seeds, jobs)}


def peer_medians(seeds: range) -> dict[str, float]:
    """``budget/problem/peer`` -> the peer's median hypervolume on ``seeds``."""
    return {f"{budget}/{problem}/{peer}": float(np.median([one(peer, problem, *BUDGETS[budget], s)[0]
                                                           for s in seeds]))
            for budget, problem, peer in itertools.product(BUDGETS, PROBLEMS, PEERS)}


def over_peers(medians: dict[str, float], peers: dict[str, float]) -> dict[str, float]:
    """Each cell's margin: the median over the better peer's median there, minus 1."""
    return {cell: m / max(peers[f"{cell}/{p}"] for p in PEERS) - 1.0 for cell, m in medians.items()}


def preset_choice(seeds: range, previous: dict[str, Any]) -> dict[str, Any]:
    """Which preset is nsga2's default: each named sbx preset as the plugin runs it
    (generational nsga2, the quality benchmark's contender), on ``seeds``, ranked by
    :func:`pick` against the peers, the rule that chose sbx-tuned's rates."""
    span = [seeds.start, seeds.stop - 1]
    peers = previous["peers"] if previous.get("seeds") == span and "peers" in previous else peer_medians(seeds)
    rows = []
    for preset in PRESETS:
        medians = {f"{budget}/{problem}": float(np.median([one(f"nsga2-{preset}", problem, *BUDGETS[budget], s)[0]
                                                           for s in seeds]))
                   for budget in BUDGETS for problem in PROBLEMS}
        rows.append(ranked(preset, None, medians, over_peers(medians, peers)))
    rows.sort(key=by_margins)
    return {"seeds": span, "rows": rows, "picked": pick(rows), "slack": SLACK}


def main(argv=None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--first-seed", type=int, default=SEEDS.start)
    parser.add_argument("--seeds", type=int, default=len(SEEDS))
    parser.add_argument("--steady", action="store_true", help="choose sbx-steady's options instead")
    parser.add_argument("--presets", action="store_true",
                        help="rank the named presets as generational nsga2 runs them (nsga2's default)")
    parser.add_argument("--pressure", action="store_true",
                        help="record what larger tournaments do to nsga2-async (speed and final hypervolume)")
    parser.add_argument("--initial", action="store_true",
                        help="record what sending LEAP's init_pop_size random genomes first does to nsga2-async")
    parser.add_argument("--jobs", type=int, default=1, help="processes for --steady, --pressure and --initial")
    args = parser.parse_args(argv)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    assert seeds.start > 10, "seeds 0-10 are the reported ones"
    if args.steady:
        payload = read_result("tuning") or {"benchmark": "tuning"}
        payload.pop("steady_tournament", None)  # the earlier, tournament-only choice
        payload["steady_rates"] = {"machine": machine(), **steady_rates(seeds, args.jobs)}
        write_result("tuning", payload)
        return payload
    for flag, record in (("pressure", pressure), ("initial", initial)):  # records, not choices
        if getattr(args, flag):
            payload = read_result("tuning") or {"benchmark": "tuning"}
            started = time.perf_counter()
            payload[flag] = {"machine": machine(), **record(seeds, args.jobs), "seconds": time.perf_counter() - started}
            write_result("tuning", payload)
            return payload
    if args.presets:
        payload = read_result("tuning") or {"benchmark": "tuning"}
        payload["presets"] = {"machine": machine(), **preset_choice(seeds, payload)}
        write_result("tuning", payload)
        return payload
    started = time.perf_counter()
    cells = [(budget, problem) for budget in BUDGETS for problem in PROBLEMS]
    peers = peer_medians(seeds)
    rows = []
    for name, options in candidates().items():
        medians = {f"{budget}/{problem}": float(np.median(
            [run_candidate(SbxRates(**options), problem, *BUDGETS[budget], s) for s in seeds]))
            for budget, problem in cells}
        rows.append(ranked(name, options, medians, over_peers(medians, peers)))
    rows.sort(key=by_margins)
    chosen = next((r["name"] for r in rows if SbxRates(**r["options"]) == SBX_TUNED), None)
    payload = {"benchmark": "tuning", "machine": machine(), "seeds": [seeds.start, seeds.stop - 1],
               "peers": peers,
               "sbx_tuned": chosen, "picked": pick(rows), "slack": SLACK, "rows": rows,
               "seconds": time.perf_counter() - started}
    previous = read_result("tuning") or {}
    for kept in ("steady_rates", "presets", "pressure", "initial"):  # made by the other options
        if kept in previous:
            payload[kept] = previous[kept]
    write_result("tuning", payload)
    return payload


if __name__ == "__main__":
    main()
