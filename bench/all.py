"""Run every benchmark and regenerate docs/benchmarks.md: ``python -m bench.all``.

``BENCH_SEEDS`` (default 11) sets the quality benchmark's seeds; ``BENCH_QUICK=1`` also
shrinks the engine and sorting benchmarks (for a smoke run, not for the docs).
"""

from __future__ import annotations

import os
import time

from . import engine, quality, report, sorting, steady_state


def main() -> None:
    start = time.perf_counter()
    quick = os.environ.get("BENCH_QUICK") == "1"
    quality.main(["--seeds", os.environ.get("BENCH_SEEDS", "11")])
    sorting.main(["--sizes", "100", "1000", "10000"] if quick else [])
    engine.main(["--evaluations", "100", "--util-pops", "8", "--util-generations", "1"] if quick else [])
    steady_state.main(["--seeds", os.environ.get("BENCH_SEEDS", "11"), "--variation", "sbx"]
                      + (["--util-runs", "8x4"] if quick else []))
    report.main()
    print(f"all benchmarks: {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
