"""Evaluation-time bias: ``nsga2-async`` against ``nsga2`` when training time follows quality.

An asynchronous steady-state EA inserts whatever returns first, so when training time
depends on the hyperparameters its population leans towards the fast ones (Scott and
De Jong, "Evaluation-time bias in asynchronous evolutionary algorithms", GECCO 2015).
With DeePMD the link is real: a larger descriptor cutoff gives a more accurate model
and a slower training (the paper's accurate models all have rcut above 8.5 A).  Section
5's race draws training times independent of quality; this one reruns it with times
that grow as a candidate nears the front (``bench.trainers:slower_when_better``: an
optimal ZDT candidate trains 3x longer than a typical random one), and with the
opposite link (``faster_when_better``), to tell a user whether the steady state's lead
survives the bias.  Same simulated workers, seeds, budgets and statistics as section 5
(:func:`bench.steady_state.race`).

``python -m bench.time_bias`` (about 10 minutes on 2 cores with 100 seeds).
"""

from __future__ import annotations

import argparse
import itertools
import os
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

from .common import machine, read_result, write_result
from .steady_state import BUDGETS, TARGETS, WORKERS, final_hv, interval, race, speedup
from .trainers import TIME_SPREAD, faster_when_better, slower_when_better

DURATIONS = {"slower when better": slower_when_better, "faster when better": faster_when_better}
PROBLEMS = ("zdt1", "zdt3")
AT_90 = TARGETS.index(0.9)


def main(argv=None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=100, help="seeds from 0, as section 5's 8-worker race")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    args = parser.parse_args(argv)
    payload: dict[str, Any] = {"benchmark": "time_bias", "machine": machine(), "workers": WORKERS,
                               "time_spread": TIME_SPREAD, "rows": []}
    started = time.perf_counter()
    with ProcessPoolExecutor(args.jobs) as executor:
        for (name, duration), budget, problem in itertools.product(DURATIONS.items(), BUDGETS, PROBLEMS):
            row = race(problem, budget, list(range(args.seeds)), workers=WORKERS, mapper=executor.map,
                       duration=duration)
            row["duration"] = name
            payload["rows"].append(row)
            print(f"time bias, {name}, {problem} {row['evaluations']}: speed-up at 90% "
                  f"{speedup(row['speedup_to_target'][AT_90])} "
                  f"{interval(row['speedup_to_target_interval'][AT_90])}; final HV "
                  f"{row['nsga2']['final_population_hv']['median']:.3f} / "
                  f"{row['nsga2-async']['final_population_hv']['median']:.3f}", flush=True)
    payload["seconds"] = time.perf_counter() - started
    write_result("time_bias", payload)
    return payload


def _row(label: str, row: dict[str, Any]) -> str:
    g, a = row["nsga2"], row["nsga2-async"]
    return (f"| {label} | {row['problem']} | {row['evaluations']} | {g['final_population_hv']['n']} | "
            f"{g['time_to_target_s'][AT_90]:.1f} / {a['time_to_target_s'][AT_90]:.1f} | "
            f"{speedup(row['speedup_to_target'][AT_90])} {interval(row['speedup_to_target_interval'][AT_90])} | "
            f"{final_hv(g)} | {final_hv(a)} |")


def markdown(r: dict[str, Any], when: str) -> list[str]:
    """The subsection of docs/benchmarks.md after section 5 (whose 8-worker rows, times
    independent of quality, are repeated for comparison when their results are there)."""
    out = ["", "### When training time follows quality (`python -m bench.time_bias`)", "",
           (f"Measured {when}.  An asynchronous steady-state EA inserts whatever returns first, so when "
            "training time depends on the hyperparameters its population leans towards the fast ones "
            "(Scott and De Jong, \"Evaluation-time bias in asynchronous evolutionary algorithms\", GECCO "
            "2015).  With DeePMD the link is real: a larger descriptor cutoff gives a more accurate model "
            "and a slower training (the paper's accurate models all have rcut above 8.5 A).  The race above "
            "draws training times independent of quality; here it runs again (same simulated workers, seeds, "
            "budgets and statistics) with each time multiplied by "
            f"{r['time_spread']:g}^c, c = (5.5 - g) / 4.5 for ZDT's distance term g (1 on the front, 5.5 for "
            "a typical random candidate, 10 at worst): an optimal candidate trains "
            f"{r['time_spread']:g}x longer than a typical random one (`bench.trainers:slower_when_better`); "
            "and divided by it (`faster_when_better`: bad settings that run long)."), "",
           ("| training time | problem | evaluations | seeds | time to 90% nsga2 / async (s) | "
           "speed-up at 90% [95% interval] | final population HV nsga2 | nsga2-async |"),
           "|---|---|---|---|---|---|---|---|"]
    steady = read_result("steady_state") or {"race": []}
    independent = [row for row in steady["race"] if row["workers"] == WORKERS]
    out += [_row("independent of quality (section 5)", row) for row in independent]
    out += [_row(row["duration"], row) for row in r["rows"]]
    speedups = [row["speedup_to_target"][AT_90] for row in r["rows"]]
    ahead = sum(row["nsga2-async"]["final_population_hv"]["median"]
                >= row["nsga2"]["final_population_hv"]["median"] for row in r["rows"])
    out += ["", (f"Across these {len(r['rows'])} cells `nsga2-async` reaches 90% of `nsga2`'s final "
                 f"hypervolume {speedup(min(speedups))} to {speedup(max(speedups))} sooner, and its median final "
                 f"population hypervolume at equal evaluations is at least `nsga2`'s in {ahead} of them.  "
                 "`nsga2`'s own run does not depend on the times (a generation waits for all its "
                 "trainings), so its final hypervolumes are section 5's; only its clock changes."), ""]
    return out


if __name__ == "__main__":
    main()
