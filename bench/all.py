"""Run every benchmark and regenerate docs/benchmarks.md: ``python -m bench.all``.

``BENCH_SEEDS`` (default 11) sets the quality benchmark's seeds, ``BENCH_RACE_SEEDS``
the steady-state race's (default: 100 on 8 workers, 31 with one worker per individual;
``bench.steady_state --race-workers``); ``BENCH_QUICK=1`` also
shrinks the engine and sorting benchmarks (for a smoke run, not for the docs);
``BENCH_TUNE=1`` also re-runs the tuning of ``sbx-tuned`` (``bench.tune``, ~15 minutes
more; otherwise the docs show its last results, bench/results/tuning.json).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable

from . import data_digest, engine, quality, report, sorting, startup, steady_state, time_bias, tune, waiting


def steps(seeds: str, race_seeds: str | None, quick: bool,
          with_tuning: bool) -> list[tuple[str, Callable[[], object]]]:
    """The benchmarks in the order they run: (name, run)."""
    return [
        ("quality", lambda: quality.main(["--seeds", seeds])),
        *([("tuning", lambda: tune.main([]))] if with_tuning else []),
        ("sorting", lambda: sorting.main(["--sizes", "100", "1000", "10000"] if quick else [])),
        ("engine", lambda: engine.main(
            ["--evaluations", "100", "--util-pops", "8", "--util-generations", "1",
             "--scaling-workers", "1", "4", "--scaling-evaluations", "32", "--scaling-pop", "8"]
            if quick else [])),
        ("steady_state", lambda: steady_state.main(
            (["--race-workers", f"8:{race_seeds}", f"pop:{race_seeds}"] if race_seeds else [])
            + (["--util-runs", "8x4:1"] if quick else []))),
        ("time_bias", lambda: time_bias.main(["--seeds", race_seeds] if race_seeds else [])),
        ("waiting", lambda: waiting.main(["--looks", "200", "--futures", "20"] if quick else [])),
        ("data_digest", lambda: data_digest.main(["--repeats", "1"] if quick else [])),
        ("startup", lambda: startup.main(["--repeats", "2"] if quick else [])),
    ]


def main() -> None:
    start = time.perf_counter()
    took = []
    for name, run in steps(os.environ.get("BENCH_SEEDS", "11"), os.environ.get("BENCH_RACE_SEEDS"),
                           os.environ.get("BENCH_QUICK") == "1",
                           os.environ.get("BENCH_TUNE") == "1"):
        began = time.perf_counter()
        run()
        took.append(f"{name} {time.perf_counter() - began:.0f} s")
    report.main()
    print(f"all benchmarks: {time.perf_counter() - start:.0f} s ({', '.join(took)})")


if __name__ == "__main__":
    main()
