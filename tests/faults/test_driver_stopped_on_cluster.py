"""A driver stopped in order (Ctrl-C) while its trainings run on a cluster that outlives it:
the trainings stop with it, as on a local cluster, instead of holding their workers to the
end (closing the Dask client cancels a task, not the training its thread runs) while a
resume trains them again behind them (helper-62's review).

Real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1 (a scheduler-file
cluster, as the shipped batch scripts start one), the real ``hpo-run`` and ``deepmd``
trainer; the training program is the stand-in ``faults_dp.py`` in its ``sleep`` fault.
"""

from __future__ import annotations

import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from cli_testutil import from_a_terminal
from dask_testutil import start_cluster
from faults_tasks import sleeping_training
from faults_testutil import VENV_BIN, joined_sleep_spec, subprocess_env

from dnnp_hpo.evaluation import OUTCOME
from dnnp_hpo.journal import Journal
from dnnp_hpo.journalschema import RUNNING

SLEEP_S = 60.0  # far longer than the test: a training still running at its end was not stopped


def trainings(evals: Path) -> list[psutil.Process]:
    """Live processes whose working directory is an evaluation directory of the run."""
    found = []
    for process in psutil.process_iter(["cwd"]):
        cwd = process.info.get("cwd") or ""
        if cwd.startswith(f"{evals}/"):
            found.append(process)
    return found


@pytest.mark.slow
def test_ctrl_c_stops_the_trainings_on_a_cluster_that_lives_on(tmp_path: Path, wait_until) -> None:
    scheduler_file, cluster = start_cluster(tmp_path, 2, subprocess_env())
    run_dir = tmp_path / "run"
    evals = run_dir / "evals"
    path = joined_sleep_spec(tmp_path, scheduler_file, SLEEP_S)
    try:
        with open(tmp_path / "driver.log", "wb") as log:
            # as from a terminal: a test runner started in the background ignores SIGINT, and
            # hpo-run keeps it ignored (two fresh-clone CI runs saw the run go on)
            driver = subprocess.Popen(from_a_terminal([str(VENV_BIN / "hpo-run"), str(path)]), cwd=tmp_path,
                                      env=subprocess_env(PYTHONFAULTHANDLER="1"), stdout=log, stderr=subprocess.STDOUT)
        assert wait_until(lambda: len(trainings(evals)) >= 2, 120), (tmp_path / "driver.log").read_text()
        running = {Path(p.info["cwd"]) for p in trainings(evals)}
        driver.send_signal(signal.SIGINT)
        try:
            driver.wait(60)
        except subprocess.TimeoutExpired:
            driver.send_signal(signal.SIGABRT)  # faulthandler writes where each thread waits
            driver.wait(30)
            raise AssertionError("hpo-run still running 60 s after Ctrl-C:\n"
                                 + (tmp_path / "driver.log").read_text()[-20000:]) from None
        assert driver.returncode == 130, (tmp_path / "driver.log").read_text()
        said = (tmp_path / "driver.log").read_text()
        assert "hpo-run: interrupted" in said, said
        # stopped within the stop order, not after SLEEP_S
        assert wait_until(lambda: not trainings(evals), 20), [p.info for p in trainings(evals)]
        assert "dask: stopped 2 training(s) of this run on the cluster's workers" in said, said
        time.sleep(1)  # what a worker would still write after its training ended
        assert not any((d / OUTCOME).exists() for d in running), "a stopped training left an outcome to harvest"
        assert all(p.poll() is None for p in cluster), "the cluster is not hpo-run's to stop"
        with Journal.of(run_dir, readonly=True) as journal:
            pending = {e.trial.workdir.name for e in journal.evaluations(RUNNING)}
            recorded = list(journal.evaluations())
        assert {d.name for d in running} <= pending, "stopped trainings stay pending, for the resume"
        assert all(e.status == "ok" for e in recorded), [e.reason for e in recorded]
    finally:
        for process in cluster:
            process.kill()
            process.wait()


@pytest.mark.slow
def test_a_stopped_training_is_not_retried_nor_a_queued_one_started(tmp_path: Path, wait_until) -> None:
    """Dask retries a task whose training was stopped (it raised) and starts those queued
    behind it on the thread that came free; the client's close then stopped neither
    (helper-67's review).  The run's tasks are cancelled before the trainings are stopped.
    One real single-thread worker, two tasks (one running, one queued), retries as
    hpo-run submits them, and the close held back a second, as a slow one would be."""
    from types import SimpleNamespace

    from distributed import Client

    from dnnp_hpo.plugins.launchers.dask_launcher import _stop_trainings

    scheduler_file, cluster = start_cluster(tmp_path, 1, subprocess_env())
    evals = tmp_path / "run" / "evals"
    try:
        client = Client(scheduler_file=str(scheduler_file), timeout=60)
        tasks = [client.submit(sleeping_training, str(evals / f"u{i}"), pure=False, retries=2) for i in range(2)]
        assert wait_until(lambda: len(trainings(evals)) == 1, 60)
        _stop_trainings(SimpleNamespace(evals_dir=evals, run_dir=evals.parent), client)
        time.sleep(1.0)
        client.close()
        time.sleep(3.0)
        assert not trainings(evals), [p.info for p in trainings(evals)]
        assert sorted(d.name for d in evals.iterdir()) == ["u0"], "a retry or the queued task started a training"
        assert len(tasks) == 2 and all(p.poll() is None for p in cluster)
    finally:
        for process in cluster:
            process.kill()
            process.wait()
