"""Swapping launchers is a change of the ``launcher:`` block only, and changes no result.

The same spec and seed with the ``function`` trainer (ZDT1) run on a local Dask cluster,
on external Dask processes joined by scheduler file, and on Parsl (local provider): the
final populations (genes and fitness of pop.csv's last generation) are identical.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from launchers_testutil import assert_every_evaluation_once, final_population, run_in_process, write_spec


@pytest.mark.slow
def test_same_final_population_on_every_launcher(tmp_path: Path, dask_processes, worker_env) -> None:
    cluster = dask_processes(2)
    launchers = {
        "dask-local": {"plugin": "dask", "workers": 2},
        "dask-scheduler-file": {"plugin": "dask", "scheduler_file": str(cluster.scheduler_file),
                                "min_workers": 2},
        "parsl-local": {"plugin": "parsl", "provider": "local", "workers_per_node": 2},
    }
    populations, seconds = {}, {}
    for name, block in launchers.items():
        spec = write_spec(tmp_path / f"{name}.yaml", launcher=block, pop_size=8, generations=3, seed=11)
        started = time.monotonic()
        run_dir = run_in_process(spec)
        seconds[name] = time.monotonic() - started
        assert_every_evaluation_once(run_dir, 8 * 4)
        populations[name] = final_population(run_dir)
    reference = populations["dask-local"]
    assert len(reference) == 8
    for name, population in populations.items():
        assert population == reference, f"{name} differs from dask-local"
    print("run time per launcher (8 x 4 ZDT1 evaluations): "
          + ", ".join(f"{name} {s:.2f} s" for name, s in seconds.items()))


@pytest.mark.slow
def test_steady_state_search_runs_on_every_launcher(tmp_path: Path, dask_processes, worker_env) -> None:
    """nsga2-async on the three engines; with one worker each its order of events, and
    so its result, depends on the seed alone, so the three final populations agree."""
    cluster = dask_processes(1)
    launchers = {
        "dask-local": {"plugin": "dask", "workers": 1},
        "dask-scheduler-file": {"plugin": "dask", "scheduler_file": str(cluster.scheduler_file),
                                "min_workers": 1},
        "parsl-local": {"plugin": "parsl", "provider": "local", "workers_per_node": 1},
    }
    optimizer = {"plugin": "nsga2-async", "pop_size": 8, "max_births": 30, "variation": "sbx"}
    populations = {}
    for name, block in launchers.items():
        spec = write_spec(tmp_path / f"{name}.yaml", launcher=block, optimizer=optimizer, seed=5)
        run_dir = run_in_process(spec)
        assert_every_evaluation_once(run_dir, 30)
        populations[name] = final_population(run_dir)
    assert len(populations["dask-local"]) == 8
    for name, population in populations.items():
        assert population == populations["dask-local"], f"{name} differs from dask-local"
