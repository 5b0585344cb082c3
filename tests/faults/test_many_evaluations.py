"""Promise 8: a run of 2,000 evaluations (``function`` trainer, local Dask) completes with
2,000 journal rows, and the driver's memory stays flat.

The real ``hpo-run`` main (faults_runner.py adds an observer that samples the driver's
RSS every 100 evaluations and counts its live Trial and Evaluation objects every 500).
Dask keeps bounded debugging logs in the driver (the local scheduler's transition log
and every batched connection's message log: 1,000 entries each, holding the tasks sent),
which fill during the first thousand or so evaluations and then stay full; the test
shortens them so that what it measures is the driver's own memory.  docs/reliability.md
gives the figures with Dask's defaults too.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from faults_testutil import HERE, assert_recorded_once, function_spec, subprocess_env, write_spec

POP_SIZE, GENERATIONS = 100, 19  # 100 x (19 + 1) = 2,000 evaluations
SHORT_DASK_LOGS = {
    "DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH": "50",
    "DASK_DISTRIBUTED__ADMIN__LOG_LENGTH": "50",
    "DASK_DISTRIBUTED__DIAGNOSTICS__COMPUTATIONS__MAX_HISTORY": "5",
}


def read_samples(path: Path) -> tuple[dict[int, int], dict[int, int], int]:
    rss, objects, peak = {}, {}, 0
    for line in path.read_text().splitlines():
        kind, *values = line.split()
        if kind == "rss":
            rss[int(values[0])] = int(values[1])
        elif kind == "objects":
            objects[int(values[0])] = int(values[1])
        else:
            peak = int(values[0])
    return rss, objects, peak


@pytest.mark.slow
def test_two_thousand_evaluations_with_flat_driver_memory(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "spec.yaml", function_spec(tmp_path / "run", pop_size=POP_SIZE,
                                                            generations=GENERATIONS, workers=2), template=None)
    samples = tmp_path / "rss.txt"
    started = time.monotonic()
    done = subprocess.run([sys.executable, str(HERE / "faults_runner.py"), "rss", str(samples), str(spec)],
                          cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False,
                          env=subprocess_env(**SHORT_DASK_LOGS))
    elapsed = time.monotonic() - started
    assert done.returncode == 0, done.stderr[-3000:]
    total = POP_SIZE * (GENERATIONS + 1)
    evaluations = assert_recorded_once(tmp_path / "run", total)
    assert len(evaluations) == 2000 and {e.status for e in evaluations} == {"ok"}

    rss, objects, peak = read_samples(samples)
    assert sorted(rss) == list(range(100, total + 1, 100)) and sorted(objects) == [500, 1000, 1500, 2000]
    # The driver keeps no per-evaluation objects: as many alive after 2,000 as after 500
    # (a population, its offspring and what is in flight), not one more per evaluation.
    assert objects[2000] <= objects[500] + 2 * POP_SIZE, objects
    # And its resident memory does not grow with the number of evaluations: 1,500 more
    # evaluations add less than 10 % (a leak of 8 KiB per evaluation would add 12 MiB).
    assert rss[2000] - rss[500] < 0.10 * rss[500], rss
    print(f"2,000 evaluations in {elapsed:.1f} s; driver RSS {rss[500] / 1024:.1f} MiB after 500, "
          f"{rss[1000] / 1024:.1f} after 1,000, {rss[2000] / 1024:.1f} after 2,000; peak {peak / 1024:.1f} MiB; "
          f"live Trial/Evaluation objects {objects}")
