"""Promise 4 on a cluster: the driver SIGKILLed while its trainings run on workers that
outlive it.  The trainings finish meanwhile; the resumed run records them from the outcome
their workers left in their directories (``dnnp-hpo-evaluation.json``) instead of
training them again.

Real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (a scheduler-file
cluster, as the shipped batch scripts start one), the real ``hpo-run`` and ``deepmd``
trainer; the training program is the stand-in ``faults_dp.py`` in its ``sleep`` fault (a
training that takes ``FAULTS_SLEEP`` seconds, then writes a good lcurve.out).
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from cli_testutil import kill_driver_when
from dask_testutil import start_cluster
from faults_testutil import VENV_BIN, assert_recorded_once, joined_sleep_spec, subprocess_env

from dnnp_hpo.evaluation import OUTCOME
from dnnp_hpo.study import HARVESTED

# the driver is killed once both trainings started: the first must still be running then,
# also where the second starts late (two test processes on two cores)
SLEEP_S = 5.0


@pytest.mark.slow
def test_trainings_that_finish_after_the_driver_died_are_harvested_on_resume(tmp_path: Path, wait_until) -> None:
    scheduler_file, cluster = start_cluster(tmp_path, 2, subprocess_env())
    worker_pids = {p.pid for p in cluster[1:]}
    run_dir = tmp_path / "run"
    path = joined_sleep_spec(tmp_path, scheduler_file, SLEEP_S)
    hpo_run = [str(VENV_BIN / "hpo-run"), str(path)]
    evals = run_dir / "evals"

    def started() -> list[Path]:
        return sorted(d for d in evals.glob("*") if (d / "fault.txt").exists()) if evals.exists() else []

    try:
        kill_driver_when(hpo_run, tmp_path, subprocess_env(), lambda: len(started()) == 2, wait_until)
        running = started()
        assert [(d / OUTCOME).exists() for d in running] == [False, False], "killed too late: already finished"
        # The workers outlive the driver and finish what they were running.
        assert wait_until(lambda: all((d / OUTCOME).exists() for d in running), 4 * SLEEP_S + 30)

        resumed = subprocess.run(hpo_run, cwd=tmp_path, env=subprocess_env(), check=False,
                                 capture_output=True, text=True, timeout=300)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    finally:
        for process in cluster:
            process.kill()
            process.wait()

    evaluations = assert_recorded_once(run_dir, 8)
    by_uuid = {e.trial.uuid: e for e in evaluations}
    for directory in running:
        record = by_uuid[directory.name]  # under its first uuid, in its first directory
        assert (record.status, record.reason) == ("ok", HARVESTED)
        assert record.pid in worker_pids and record.metrics["runtime"] >= SLEEP_S
    # Nothing trained twice: one started training per recorded evaluation.
    assert sorted(d.name for d in started()) == sorted(by_uuid)
