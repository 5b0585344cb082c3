"""Write docs/benchmarks.md from bench/results/*.json (run after the benchmarks)."""

from __future__ import annotations

import datetime as _dt

from . import steady_state
from .common import BENCH, read_result

DOC = BENCH.parent / "docs" / "benchmarks.md"
ORDER = ("nsga2-paper", "nsga2-sbx", "pymoo", "optuna", "random")


def _machine(m: dict) -> str:
    load = m.get("loadavg_at_start")
    load_s = f", load average {load[0]:.1f} at start" if load else ""
    return f"{m['date']}, {m['cpus']} CPUs, Python {m['python']}{load_s}"


def quality(r: dict) -> list[str]:
    out = ["## 1. Optimizer quality at equal budgets", "",
           (f"Measured {_machine(r['machine'])}; {r['seeds']} seeds (0..{r['seeds'] - 1}) per cell.  "
           "Hypervolume of the final population, reference point "
           f"({r['reference_point'][0]}, {r['reference_point'][1]}), {r['n_var']} variables; "
           "median [interquartile range].  **Bold**: the best median of the row."), ""]
    cells = {(row["budget"], row["problem"], row["contender"]): row for row in r["rows"]}
    budgets = sorted({row["budget"] for row in r["rows"]}, key=lambda b: b != "paper")
    problems = list(dict.fromkeys(row["problem"] for row in r["rows"]))
    contenders = [c for c in ORDER if any(row["contender"] == c for row in r["rows"])]
    out.append("| budget | problem | " + " | ".join(contenders) + " | sbx ≥ pymoo and optuna |")
    out.append("|---|---|" + "---|" * len(contenders) + "---|")
    for budget in budgets:
        for problem in problems:
            row = [cells.get((budget, problem, c)) for c in contenders]
            best = max((x["median"] for x in row if x), default=0)
            texts = []
            for x in row:
                if x is None:
                    texts.append("-")
                    continue
                t = f"{x['median']:.3f} [{x['q1']:.3f}, {x['q3']:.3f}]"
                texts.append(f"**{t}**" if x["median"] == best else t)
            any_row = next(x for x in row if x)
            label = f"{budget} ({any_row['pop_size']} x {any_row['generations'] + 1} = {any_row['evaluations'][0]})"
            ours = cells.get((budget, problem, "nsga2-sbx"))
            peers = [cells.get((budget, problem, c)) for c in ("pymoo", "optuna")]
            verdict = "-" if ours is None or None in peers else (
                "yes" if all(ours["median"] >= p["median"] for p in peers) else "**no**")
            out.append(f"| {label} | {problem.upper()} | " + " | ".join(texts) + f" | {verdict} |")
    return out + [""]


def sorting(r: dict) -> list[str]:
    out = ["## 3. Non-dominated sorting at scale", "",
           (f"Measured {_machine(r['machine'])}; best of {r['repeats']} runs (1 run for LEAP's "
           f"fast_nondominated_sort, which is capped at {r['fast_nds_max']} points because it is "
           "O(M N²) in pure Python, and for 10⁵ points); uniform random points, and the same on a "
           "0.05 grid (\"ties\").  Seconds; ✗ marks ranks that differ from moocore's."), ""]
    contenders = list(dict.fromkeys(row["contender"] for row in r["rows"]))
    out.append("| objectives | points | ties | " + " | ".join(contenders) + " |")
    out.append("|---|---|---|" + "---|" * len(contenders))
    keys = list(dict.fromkeys((row["objectives"], row["points"], row["ties"]) for row in r["rows"]))
    cells = {(row["objectives"], row["points"], row["ties"], row["contender"]): row for row in r["rows"]}
    for m, n, ties in keys:
        texts = []
        for c in contenders:
            x = cells.get((m, n, ties, c))
            texts.append("-" if x is None else f"{x['seconds']:.4f}" + ("" if x["correct"] else " ✗"))
        out.append(f"| {m} | {n} | {'yes' if ties else 'no'} | " + " | ".join(texts) + " |")
    return out + [""]


def engine(r: dict) -> list[str]:
    out = []
    if r.get("overhead"):
        out += ["## 2. Framework overhead per evaluation", "",
                (f"Measured {_machine(r['machine'])}.  `hpo-run` with the `deepmd` trainer whose `command` "
                "is `bench/fake_dp.py` (reads input.json, writes a valid lcurve.out; standard library "
                "only), local Dask, NSGA-II with population 100: render, directory, subprocess, "
                "lcurve.out parsing, journal and CSV records.  *Per-evaluation overhead* = worker-side "
                "time outside the command (render, mkdir, parse) + amortised engine time "
                "((workers x span - Σ evaluation time) / N: Dask scheduling, result transfer, the "
                "driver's recording, generation barriers) + the command's wall time minus a bare "
                "`python -c pass` run as many at a time as there are workers (the floor of any Python "
                "command on this machine).  Span: first evaluation start to last evaluation stop "
                "(Dask start-up excluded; the full `hpo-run` wall time is given too)."), "",
                ("| workers | evaluations | overhead median (ms) | overhead p95 (ms) | worker-side median / p95 (ms) "
                "| amortised engine (ms) | command median (ms) | bare python median (ms) | evals/s | hpo-run wall (s) |"),
                "|---|---|---|---|---|---|---|---|---|---|"]
        for x in r["overhead"]:
            out.append(
                f"| {x['workers']} | {x['evaluations']} | {x['overhead_per_evaluation_s']['median'] * 1e3:.1f} "
                f"| {x['overhead_per_evaluation_s']['p95'] * 1e3:.1f} "
                f"| {x['worker_overhead_s']['median'] * 1e3:.1f} / {x['worker_overhead_s']['p95'] * 1e3:.1f} "
                f"| {x['amortised_engine_overhead_s'] * 1e3:.1f} | {x['command_s']['median'] * 1e3:.1f} "
                f"| {x['bare_python_s']['median'] * 1e3:.1f} | {x['evals_per_s']:.1f} | {x['hpo_run_wall_s']:.1f} |")
        out.append("")
    if r.get("utilisation"):
        out += ["## 4. Worker utilisation with uneven training times", "",
                (f"Measured {_machine(r['machine'])}.  `function` trainer `bench.trainers:lognormal_sleep` "
                "(sleeps exp(0.5 z) s, z standard normal seeded by the genome: median 1 s), "
                "generational NSGA-II (`variation: sbx`), local Dask.  Busy fraction = Σ evaluation "
                "times / (workers x span), span from the first evaluation start to the last stop; the "
                "last column divides by the whole `hpo-run` wall time instead (Dask start-up included).  "
                "This is the baseline for the asynchronous optimizer."), "",
                "| workers | population | generations | evaluations | busy fraction | span (s) | longest evaluation (s) | busy incl. start-up |",
                "|---|---|---|---|---|---|---|---|"]
        for x in r["utilisation"]:
            out.append(f"| {x['workers']} | {x['pop_size']} | 1 + {x['generations']} | {x['evaluations']} "
                       f"| {x['busy_fraction']:.2f} | {x['evaluation_span_s']:.1f} | {x['evaluation_s']['max']:.2f} "
                       f"| {x['busy_fraction_including_startup']:.2f} |")
        out.append("")
    return out


HEADER = """# Benchmarks

Generated by `make bench` (`python -m bench.all`; `BENCH_SEEDS=3 make bench` for a quick
run) on {date}.  The scripts are in `bench/`, their raw results in `bench/results/*.json`.
They are benchmarks, not tests: nothing here is asserted by the test suite.

**Machine: 2 cores, shared** with other engineers' test runs while these were measured, so
timings (sections 2-4) are noisy; the hypervolumes (section 1) do not depend on timing.

How the quality benchmark runs our optimizer: in-process, with the same `Study` and
`nsga2` plugin classes as `hpo-run`, on a serial in-process pool (`bench/inprocess.py`)
instead of Dask, so it measures the optimizer, not the engine.  pymoo's `NSGA2` and
Optuna's `NSGAIISampler` run with their defaults and the same number of evaluations; all
contenders evaluate the same functions (`dnnp_hpo.problems`).  For Optuna and random
search, which keep no population, the hypervolume is that of the non-dominated set of all
their evaluations.  `nsga2-paper` is `variation: paper` (the seed paper's operators, sigma
10% of each range, decay 0.85); `nsga2-sbx` is `variation: sbx`, the default (binary
tournament, SBX eta 10 p 0.9, polynomial mutation eta 10 p 0.3; these rates were chosen on
seeds 100-110, the table uses seeds 0-10).
"""


def main() -> None:
    date = _dt.date.today().isoformat()
    lines = [HEADER.format(date=date)]
    q, e, s = read_result("quality"), read_result("engine"), read_result("sorting")
    if q:
        lines += quality(q)
        lines += NOTES_QUALITY
    eng = engine(e) if e else []
    over = [i for i, t in enumerate(eng) if t.startswith("## 4.")]
    lines += eng[: over[0]] if over else eng
    lines += NOTES_OVERHEAD
    if s:
        lines += sorting(s)
        lines += NOTES_SORTING
    if over:
        lines += eng[over[0]:]
        lines += NOTES_UTIL
    steady = read_result("steady_state")
    if steady:
        lines += steady_state.markdown(steady, _machine(steady["machine"]))
    DOC.parent.mkdir(exist_ok=True)
    DOC.write_text("\n".join(lines).rstrip() + "\n", encoding="utf-8")
    print(f"wrote {DOC}")


NOTES_QUALITY = ["""Notes:

* ZDT2 gives 0 for almost every run at these budgets: no contender gets a point under
  (1.1, 1.1) on its non-convex front in 220-700 evaluations of 7 variables, so that row
  does not rank the contenders (ties at 0).
* The goal (sbx's median at least pymoo's and Optuna's everywhere) is met at the paper's
  budget on all four problems and at the small budget on DTLZ2, but **not** at the small
  budget on ZDT1 and ZDT3, where Optuna's sampler (uniform crossover, uniform resampling
  mutation) is ahead; on the tuning seeds 100-110 sbx was ahead there too, so the gap is
  within seed noise at population 20, but it is not closed.
* The paper's operators (random parents, Gaussian mutation only, sigmas annealed by 0.85)
  stall early: `variation: paper` stays available and documented, but `sbx` is the default.
""".rstrip(), ""]
NOTES_OVERHEAD = ["""The framework's own share is a few milliseconds per evaluation (worker-side ~1 ms,
engine and driver 1-2 ms amortised), well under the 50 ms goal.  Throughput barely grows
from 1 to 2 workers here because the do-nothing command is itself CPU-bound (starting
Python) and the 2 shared cores were saturated: two bare `python -c pass` at a time take
~65 ms each against ~20 ms alone.  The driver is not what limits it (the amortised engine
time stays ~2 ms), but "throughput scales with workers" cannot be shown on this machine.
""".rstrip(), ""]
NOTES_SORTING = ["""All sorts give moocore's ranks.  The nsga2 plugin sorts with LEAP's
`rank_ordinal_sort` (the paper's choice): about a millisecond at NSGA-II's sizes
(2 x population, a few hundred points), but several seconds for 10⁵ distinct points, so
it misses the 1 s goal there.  moocore's `pareto_rank` is the fastest correct sort at
every size (pymoo's is close).  Switching the plugin to it needs moocore as a core
dependency (ranks are identical, so runs would not change); not done yet.
""".rstrip(), ""]
NOTES_UTIL = []

if __name__ == "__main__":
    main()
