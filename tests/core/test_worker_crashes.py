"""Trainings that take their local Dask worker down: the run ends all the same.

Dask gives such an evaluation up after its retries (recorded ``lost``, the MAXINT
fitness), and the nannies restart the dead workers.  Closing the local cluster while
they restart could hang for ever in distributed 2024.6 (in about two runs of three
here): the run had recorded everything and never ended.  Real hpo-run, real local Dask.
"""

from __future__ import annotations

import subprocess

import pytest
from hpo_testutil import subprocess_env, write_spec, zdt_spec

from dnnp_hpo.evaluation import shared_reason
from dnnp_hpo.journal import Journal


@pytest.mark.slow
@pytest.mark.parametrize("seed", [7, 8])
def test_a_run_whose_trainings_crash_their_workers_ends(tmp_path, hpo_run_exe, seed: int) -> None:
    run_dir = tmp_path / "run"
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(run_dir, pop_size=8, generations=1, workers=2, seed=seed,
                                                    callable_="hpo_testfuncs:zdt1_crashing_its_worker"))
    done = subprocess.run([str(hpo_run_exe), str(spec)], cwd=tmp_path, env=subprocess_env(), capture_output=True,
                          text=True, timeout=120, check=False, start_new_session=True)
    assert done.returncode == 0, done.stderr
    with Journal.of(run_dir, readonly=True) as journal:
        evaluations = journal.evaluations()
        assert journal.meta("finished", False)
    assert sorted(e.trial.birth_id for e in evaluations) == list(range(16))
    lost = [e for e in evaluations if e.status == "lost"]
    assert lost and all("KilledWorker" in e.reason for e in lost), [e.reason for e in evaluations]
    # what Dask says, without its advice (which the 300-character cut left mid-sentence)
    assert all(shared_reason(e).endswith("to run the task was <address>.") for e in lost), [e.reason for e in lost]
    # the scheduler's own lines about the dead workers stay out of hpo-run's stderr
    assert "distributed.scheduler - ERROR" not in done.stderr, done.stderr
    # one failure, counted as one: Dask's task key and the dead worker's address are folded
    assert len({shared_reason(e) for e in lost}) == 1, [e.reason for e in lost]
    # every crashing candidate is lost (an evaluation Dask held on the same worker may be too)
    assert {e.trial.birth_id for e in evaluations if e.trial.params["x0"] > 0.7} <= {e.trial.birth_id for e in lost}



@pytest.mark.slow
def test_workers_come_back_however_long_the_trainings_crash_them(tmp_path, hpo_run_exe) -> None:
    """Every training kills its worker, for longer than distributed's lost-worker-timeout
    (15 s): a local cluster hard-closed a nanny caught between two of its worker's deaths,
    never replaced it, and with none left the run waited 600 s for a worker ("launcher.
    wait_timeout", a key a local cluster does not take) and stopped with exit 3; a resume
    did the same (helper-79).  Now the nannies keep restarting them: every birth is
    recorded lost, and the run ends as one whose every evaluation failed.

    The timeout is set to 1 s in the environment (the default hpo-run overrides), so that
    four births' worker deaths outlast it many times over: without the override this run
    waits for a worker and meets the test's timeout, as 24 births did at 15 s."""
    run_dir = tmp_path / "run"
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(run_dir, pop_size=4, generations=0, workers=2, seed=3,
                                                    callable_="hpo_testfuncs:crashing_its_worker"))
    env = subprocess_env(DASK_DISTRIBUTED__DEPLOY__LOST_WORKER_TIMEOUT="1s")
    done = subprocess.run([str(hpo_run_exe), str(spec)], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=240, check=False, start_new_session=True)
    assert done.returncode == 1, done.stderr  # no evaluation succeeded
    assert "launcher.wait_timeout" not in done.stderr, done.stderr
    with Journal.of(run_dir, readonly=True) as journal:
        evaluations = journal.evaluations()
        assert journal.meta("finished", False)
    assert sorted(e.trial.birth_id for e in evaluations) == list(range(4))
    assert all(e.status == "lost" and "KilledWorker" in e.reason for e in evaluations), [e.reason for e in evaluations]
