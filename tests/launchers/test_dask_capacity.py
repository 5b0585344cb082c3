"""The Dask pool's capacity is its threads: nsga2-async keeps that many evaluations in flight."""

from __future__ import annotations

from launchers_testutil import write_spec

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.registry import load_registry


def test_a_local_cluster_of_two_threads_per_worker_runs_two_per_worker(tmp_path):
    spec = write_spec(tmp_path / "s.yaml", launcher={"plugin": "dask", "workers": 2, "threads_per_worker": 2})
    run, _ = prepare_run(spec, load_registry())
    with run.experiment.launcher.connect(run) as pool:
        # workers: 2, threads: 4 (the number of workers would leave half of them idle)
        assert len(pool.client.scheduler_info()["workers"]) == 2
        assert pool.size == 4
