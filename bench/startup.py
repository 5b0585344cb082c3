"""What starting ``hpo-run`` costs, before and around the trainings.

Three commands, each run ``--repeats`` times as a subprocess: a spec refused at its first
key (exit 2: the interpreter, imports and the check), the quickstart's ``--dry-run``
(every DeePMD-kit check of the sample inputs, nothing launched), and a whole local run of
two near-instant evaluations on one Dask worker (start, run, close).  CPU is the
processes' user + system time, hpo-run's and every process it waited for (its Dask
worker); the worker's own peak memory is read inside it, by the run's trainer
(:func:`worker_peak_mib`), so it is the real worker's as it evaluates.

``python -m bench.startup`` (about half a minute).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from .common import BENCH, machine, write_result

REPO = BENCH.parent
HPO_RUN = Path(sys.executable).parent / "hpo-run"


def worker_peak_mib(params: dict[str, float]) -> tuple[float, float]:
    """The ``function`` trainer of the local run: this worker process's peak resident
    memory (MiB) as f1, x0 as f2."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, float(params["x0"])


def _timed(argv: list[str], cwd: Path, expect: int) -> tuple[float, float]:
    """(wall s, CPU s of the command and the processes it waited for)."""
    # the local run's worker imports bench.startup (its trainer)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != expect:
        raise RuntimeError(f"{argv}: exit {done.returncode}, not {expect}: {done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _local_run_spec(run_dir: Path) -> dict[str, Any]:
    return {"name": "startup", "seed": 1, "run_dir": str(run_dir),
            "space": {"x0": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1}},
            "objectives": [{"name": "f1"}, {"name": "f2"}],
            "trainer": {"plugin": "function", "callable": "bench.startup:worker_peak_mib"},
            "optimizer": {"plugin": "nsga2", "pop_size": 2, "generations": 0},
            "launcher": {"plugin": "dask", "workers": 1}}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rows, worker_mib = [], []
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        tmp = Path(tmp)
        (tmp / "refused.yaml").write_text("name: t\nseed: not a number\n", encoding="utf-8")
        cases = {
            "a refused spec (exit 2)": ([str(HPO_RUN), str(tmp / "refused.yaml")], 2),
            "quickstart --dry-run (DeePMD-kit checks)": (
                [str(HPO_RUN), str(REPO / "configs" / "quickstart.yaml"), "--dry-run",
                 "--set", f"run_dir={tmp / 'dry'}"], 0),
        }
        for name, (command, expect) in cases.items():
            timings = [_timed(command, tmp, expect) for _ in range(args.repeats)]
            rows.append({"command": name, "wall_s": statistics.median(w for w, _ in timings),
                         "cpu_s": statistics.median(c for _, c in timings)})
            print(rows[-1])
        timings = []
        for k in range(args.repeats):
            run_dir = tmp / f"run{k}"
            spec = tmp / f"run{k}.yaml"
            spec.write_text(yaml.safe_dump(_local_run_spec(run_dir), sort_keys=False), encoding="utf-8")
            timings.append(_timed([str(HPO_RUN), str(spec)], tmp, 0))
            from dnnp_hpo.journal import Journal

            with Journal.of(run_dir, readonly=True) as journal:
                worker_mib += [e.metrics["f1"] for e in journal.evaluations()]
        rows.append({"command": "a local run: 2 evaluations on 1 Dask worker", "wall_s":
                     statistics.median(w for w, _ in timings), "cpu_s": statistics.median(c for _, c in timings)})
        print(rows[-1])
    payload = {"machine": machine(), "repeats": args.repeats, "rows": rows,
               "worker_peak_mib": statistics.median(worker_mib)}
    write_result("startup", payload)
    return payload


def markdown(r: dict, measured: str) -> list[str]:
    out = ["", "## 8. Starting hpo-run", "",
           (f"Measured {measured}; `python -m bench.startup`, the median of {r['repeats']} runs of each "
            "command.  CPU: user + system time of hpo-run and of the processes it waited for (its Dask "
            "worker), what a command costs a loaded machine; a run's trainings come on top."), "",
           "| command | wall (s) | CPU (s) |", "|---|---|---|"]
    out += [f"| {row['command']} | {row['wall_s']:.2f} | {row['cpu_s']:.2f} |" for row in r["rows"]]
    out += ["", (f"A local Dask worker's peak memory, read inside it while it evaluates: "
                 f"{r['worker_peak_mib']:.0f} MiB.  Dask's version report no longer imports pandas in "
                 "hpo-run and in each worker (docs/hpc.md), a spec check imports neither Dask nor Parsl, and "
                 "DeePMD-kit's tree of arguments is built once for all the sample inputs a start-up checks.  "
                 "Before those three changes, on the same machine (2026-12-07, measured by hand with "
                 "`/usr/bin/time`, the three changes undone): a refused spec took 0.7 s of CPU, the quickstart's "
                 "`--dry-run` 1.9 s, a short "
                 "local run (24 evaluations, 1 worker) 2.0 s against 1.4 s after, and a worker 35 MB more "
                 "(pandas).")]
    return out


if __name__ == "__main__":
    main()
