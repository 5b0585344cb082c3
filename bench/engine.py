"""Engine benchmarks through the whole ``hpo-run`` path on local Dask.

``overhead``: the deepmd trainer with a ``command`` that only writes a valid
``lcurve.out`` (``bench/fake_dp.py``, a tiny Python script): render the template, make
the directory, run the subprocess, parse ``lcurve.out``, record in the journal and CSV.
``scaling``: the same with a command that first sleeps a fixed time (workers wait, not
compute), and the function trainer sleeping as long in the worker, at 1, 2, 4 and 8
workers: evaluations per second and the time per evaluation beyond the sleep.
``utilisation``: the function trainer sleeping a lognormal time (median 1 s, sigma 0.5)
on 8 workers, generational NSGA-II.

Each run is an ``hpo-run`` subprocess on a spec written to a temporary directory; the
timings come from the run's journal (worker-side start/stop of each evaluation and the
command's own wall time, metric ``runtime``).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

from dnnp_hpo.journal import Journal

from .common import BENCH, machine, write_result

REPO = BENCH.parent
HPO_RUN = Path(sys.executable).parent / "hpo-run"
TEMPLATE = '{"x": [$x0, $x1, $x2, $x3, $x4, $x5, $x6], "training": {"disp_file": "lcurve.out", "seed": $seed}}\n'


def space(n: int = 7) -> dict:
    return {f"x{i}": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1} for i in range(n)}


def run_spec(spec: dict, tmp: Path, env: dict[str, str] | None = None) -> tuple[float, list]:
    """Run hpo-run on ``spec`` (with ``env`` added to the environment); return its wall
    time and the journal's evaluations."""
    path = tmp / "spec.yaml"
    spec = {**spec, "run_dir": str(tmp / "run")}
    path.write_text(yaml.safe_dump(spec, sort_keys=False), encoding="utf-8")
    env = {**os.environ, **(env or {}),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    done = subprocess.run([str(HPO_RUN), str(path)], check=False, cwd=tmp, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"hpo-run failed ({done.returncode}): {done.stderr[-2000:]}")
    with Journal.of(tmp / "run", readonly=True) as journal:
        evaluations = journal.evaluations()
    return wall, evaluations


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values, dtype=float), q))


def bare_python(concurrency: int, repeats: int = 20) -> dict:
    """Wall time of ``python -c pass`` as a subprocess, ``concurrency`` at a time (as many
    as there are workers): the floor of any Python command on this machine."""
    from concurrent.futures import ThreadPoolExecutor

    def one(_):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        return time.perf_counter() - start

    with ThreadPoolExecutor(concurrency) as pool:
        times = list(pool.map(one, range(repeats * concurrency)))
    return {"median": pct(times, 50), "p95": pct(times, 95), "concurrency": concurrency}


def fake_dp_spec(name: str, workers: int, pop_size: int, generations: int, *args: str,
                 python_flags: tuple[str, ...] = ()) -> dict:
    """A spec whose deepmd trainer runs ``python *python_flags bench/fake_dp.py *args``
    (template.json beside it)."""
    return {
        "name": name, "seed": 1, "space": space(),
        "objectives": [{"name": "energy_rmse"}, {"name": "force_rmse"}],
        "trainer": {"plugin": "deepmd", "template": "template.json", "check_input": False,
                    "command": [sys.executable, *python_flags, str(BENCH / "fake_dp.py"), *args], "timeout_minutes": 1},
        "optimizer": {"plugin": "nsga2", "pop_size": pop_size, "generations": generations},
        "launcher": {"plugin": "dask", "workers": workers},
    }


def run_fake_dp(spec: dict, prefix: str) -> tuple[float, list]:
    """Run a :func:`fake_dp_spec` spec; every evaluation must succeed."""
    with tempfile.TemporaryDirectory(prefix=prefix) as tmpdir:
        tmp = Path(tmpdir)
        (tmp / "template.json").write_text(TEMPLATE, encoding="utf-8")
        wall, evals = run_spec(spec, tmp)
    ok = [e for e in evals if e.status == "ok"]
    if len(ok) != len(evals):
        bad = [e for e in evals if e.status != "ok"][:3]
        raise RuntimeError(f"{len(evals) - len(ok)} evaluations failed, e.g. {[(e.status, e.reason) for e in bad]}")
    return wall, ok


def launch_cost(repeats: int = 30) -> dict:
    """``python -c pass`` started by a bare ``subprocess.run`` and by the trainers'
    ``dnnp_hpo.process.run_command`` (own session, training token, watchdog process,
    /proc scan at the end), one at a time: what starting a command costs the framework."""
    from dnnp_hpo.process import run_command

    argv = [sys.executable, "-c", "pass"]
    with tempfile.TemporaryDirectory(prefix="bench-launch-") as tmpdir:
        tmp = Path(tmpdir)
        bare, framework = [], []
        for _ in range(repeats):
            start = time.perf_counter()
            subprocess.run(argv, cwd=tmp, check=True, stdin=subprocess.DEVNULL, start_new_session=True)
            bare.append(time.perf_counter() - start)
            start = time.perf_counter()
            run_command(argv, tmp, stdout=tmp / "out", stderr=tmp / "err")
            framework.append(time.perf_counter() - start)
    return {"bare_subprocess_s": {"median": pct(bare, 50), "p95": pct(bare, 95)},
            "run_command_s": {"median": pct(framework, 50), "p95": pct(framework, 95)}}


def overhead(workers: int, evaluations: int, pop_size: int) -> dict:
    """Per-evaluation framework overhead with a do-nothing training command."""
    generations = evaluations // pop_size - 1
    wall, ok = run_fake_dp(fake_dp_spec("bench-overhead", workers, pop_size, generations), "bench-overhead-")
    duration = np.array([e.stop - e.start for e in ok])
    command = np.array([e.metrics["runtime"] for e in ok])
    worker_overhead = duration - command
    first, last = min(e.start for e in ok), max(e.stop for e in ok)
    span = last - first
    python = bare_python(workers)
    slot = workers * span / len(ok)  # worker-slot seconds per evaluation
    # What the driver and the engine add on top of the worker-side time: every worker
    # slot's time during the evaluations, less what the evaluations took, per evaluation.
    amortised = (workers * span - duration.sum()) / len(ok)
    return {
        "workers": workers, "evaluations": len(ok), "pop_size": pop_size, "generations": generations,
        "hpo_run_wall_s": wall, "evaluation_span_s": span,
        "evals_per_s": len(ok) / span, "evals_per_s_including_startup": len(ok) / wall,
        "command_s": {"median": pct(command, 50), "p95": pct(command, 95)},
        "worker_overhead_s": {"median": pct(worker_overhead, 50), "p95": pct(worker_overhead, 95)},
        "evaluation_s": {"median": pct(duration, 50), "p95": pct(duration, 95)},
        "amortised_engine_overhead_s": float(amortised),
        "slot_s_per_evaluation": float(slot),
        "bare_python_s": python,
        # Each evaluation's worker-side time (its command included) and its share of the
        # engine's time, less a bare Python start: the framework's share, per evaluation,
        # so that the median and p95 are percentiles over evaluations.
        "overhead_per_evaluation_s": {
            "median": pct(duration + amortised - python["median"], 50),
            "p95": pct(duration + amortised - python["median"], 95),
        },
    }


def sleeping_spec(trainer: str, workers: int, pop_size: int, generations: int, sleep_s: float) -> dict:
    """``command``: fake_dp.py sleeping ``sleep_s`` first; ``function``: the worker sleeps.

    The command runs as ``python -S``: without the site packages (the virtual
    environment's import hooks), starting the stand-in costs ~10 ms of CPU instead of
    ~50, so the workers wait rather than compute, as they do for a real training.
    """
    if trainer == "command":
        return fake_dp_spec("bench-scaling", workers, pop_size, generations, str(sleep_s), python_flags=("-S",))
    return {
        "name": "bench-scaling", "seed": 1, "space": space(),
        "objectives": [{"name": "f1"}, {"name": "f2"}],
        "trainer": {"plugin": "function", "callable": "bench.trainers:fixed_sleep"},
        "optimizer": {"plugin": "nsga2", "pop_size": pop_size, "generations": generations},
        "launcher": {"plugin": "dask", "workers": workers},
    }


def scaling(trainer: str, workers: int, evaluations: int, pop_size: int, sleep_s: float) -> dict:
    """Throughput with trainings that wait ``sleep_s`` seconds: ideal is workers / sleep_s
    evaluations per second; the rest is the framework's time per evaluation."""
    generations = evaluations // pop_size - 1
    spec = sleeping_spec(trainer, workers, pop_size, generations, sleep_s)
    if trainer == "command":
        wall, evals = run_fake_dp(spec, "bench-scaling-")
    else:
        with tempfile.TemporaryDirectory(prefix="bench-scaling-") as tmpdir:
            wall, evals = run_spec(spec, Path(tmpdir), env={"BENCH_SLEEP_FIXED": str(sleep_s)})
    first, last = min(e.start for e in evals), max(e.stop for e in evals)
    span = last - first
    duration = np.array([e.stop - e.start for e in evals])
    return {
        "trainer": trainer, "workers": workers, "evaluations": len(evals), "pop_size": pop_size,
        "generations": generations, "sleep_s": sleep_s, "evaluation_span_s": span, "hpo_run_wall_s": wall,
        "evals_per_s": len(evals) / span, "ideal_evals_per_s": workers / sleep_s,
        "ideal_span_s": len(evals) * sleep_s / workers,
        # (span - ideal span) spread over the evaluations each worker ran: what a worker
        # slot spends per evaluation beyond the sleep (worker side, engine and driver)
        "overhead_per_evaluation_s": float((workers * span - len(evals) * sleep_s) / len(evals)),
        "worker_side_beyond_sleep_s": {"median": pct(duration - sleep_s, 50), "p95": pct(duration - sleep_s, 95)},
    }


def utilisation(workers: int, pop_size: int, generations: int) -> dict:
    """Busy fraction of the workers with lognormal training times."""
    with tempfile.TemporaryDirectory(prefix="bench-util-") as tmpdir:
        spec = {
            "name": "bench-utilisation", "seed": 3, "space": space(),
            "objectives": [{"name": "f1"}, {"name": "f2"}],
            "trainer": {"plugin": "function", "callable": "bench.trainers:lognormal_sleep"},
            "optimizer": {"plugin": "nsga2", "pop_size": pop_size, "generations": generations},
            "launcher": {"plugin": "dask", "workers": workers},
        }
        wall, evals = run_spec(spec, Path(tmpdir))
    durations = np.array([e.stop - e.start for e in evals])
    first, last = min(e.start for e in evals), max(e.stop for e in evals)
    span = last - first
    by_gen = {}
    for e in evals:
        lo, hi = by_gen.get(e.trial.generation, (np.inf, -np.inf))
        by_gen[e.trial.generation] = (min(lo, e.start), max(hi, e.stop))
    return {
        "workers": workers, "pop_size": pop_size, "generations": generations, "evaluations": len(evals),
        "busy_fraction": float(durations.sum() / (workers * span)),
        "busy_fraction_including_startup": float(durations.sum() / (workers * wall)),
        "evaluation_span_s": span, "hpo_run_wall_s": wall,
        "sum_evaluation_s": float(durations.sum()),
        "evaluation_s": {"median": pct(durations, 50), "p95": pct(durations, 95), "max": float(durations.max())},
        "generation_spans_s": [hi - lo for _, (lo, hi) in sorted(by_gen.items())],
    }


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evaluations", type=int, default=500, help="overhead: total evaluations")
    parser.add_argument("--overhead-workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--util-workers", type=int, default=8)
    parser.add_argument("--util-pops", type=int, nargs="*", default=[8, 32])
    parser.add_argument("--util-generations", type=int, default=4)
    parser.add_argument("--scaling-workers", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("--scaling-trainers", nargs="*", default=["command", "function"],
                        choices=["command", "function"])
    parser.add_argument("--scaling-evaluations", type=int, default=160)
    parser.add_argument("--scaling-pop", type=int, default=32, help="a multiple of every worker count")
    parser.add_argument("--scaling-sleep", type=float, default=0.2)
    parser.add_argument("--skip", nargs="*", default=[], choices=["overhead", "scaling", "utilisation"])
    args = parser.parse_args(argv)
    payload = {"benchmark": "engine", "machine": machine(), "overhead": [], "scaling": [], "utilisation": []}
    if "overhead" not in args.skip:
        payload["launch"] = launch = launch_cost()
        print(f"launch of python -c pass: bare subprocess {launch['bare_subprocess_s']['median'] * 1e3:.0f} ms, "
              f"run_command {launch['run_command_s']['median'] * 1e3:.0f} ms (medians)", flush=True)
        for w in args.overhead_workers:
            row = overhead(w, args.evaluations, pop_size=100)
            payload["overhead"].append(row)
            print(f"overhead workers={w}: per evaluation median "
                  f"{row['overhead_per_evaluation_s']['median'] * 1e3:.1f} ms p95 "
                  f"{row['overhead_per_evaluation_s']['p95'] * 1e3:.1f} ms (bare python "
                  f"{row['bare_python_s']['median'] * 1e3:.1f} ms); worker-side median {row['worker_overhead_s']['median'] * 1e3:.1f} ms "
                  f"p95 {row['worker_overhead_s']['p95'] * 1e3:.1f} ms, amortised "
                  f"{row['amortised_engine_overhead_s'] * 1e3:.1f} ms, command median "
                  f"{row['command_s']['median'] * 1e3:.1f} ms, {row['evals_per_s']:.1f} evals/s", flush=True)
    if "scaling" not in args.skip:
        for trainer in args.scaling_trainers:
            for w in args.scaling_workers:
                row = scaling(trainer, w, args.scaling_evaluations, args.scaling_pop, args.scaling_sleep)
                payload["scaling"].append(row)
                print(f"scaling {trainer} workers={w}: {row['evals_per_s']:.2f} evals/s (ideal "
                      f"{row['ideal_evals_per_s']:.1f}), beyond the sleep "
                      f"{row['overhead_per_evaluation_s'] * 1e3:.0f} ms per evaluation", flush=True)
    if "utilisation" not in args.skip:
        for pop in args.util_pops:
            row = utilisation(args.util_workers, pop, args.util_generations)
            payload["utilisation"].append(row)
            print(f"utilisation workers={args.util_workers} pop={pop}: busy {row['busy_fraction']:.2f} "
                  f"({row['evaluations']} evals in {row['evaluation_span_s']:.1f} s)", flush=True)
    write_result("engine", payload)
    return payload


if __name__ == "__main__":
    main()
