"""Waiting on the Dask pool: nsga2-async looks every few seconds while trainings run for
hours, so a look must leave nothing behind in the client (a real LocalCluster)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time

import pytest
from launchers_testutil import write_spec

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.registry import load_registry


def _loop_tasks(client) -> int:
    async def count() -> int:
        return len(asyncio.all_tasks())

    return client.sync(count)


def test_looking_while_trainings_run_adds_no_task_to_the_client(tmp_path) -> None:
    """200 looks (timeout 1 ms) at 20 pending futures leave the client's event loop as it
    was; ``distributed.as_completed`` in their place adds 2 tasks per future per look
    (8,000 here; 400,000 and 1.4 GB after 2,000 looks at 100 trainings)."""
    spec = write_spec(tmp_path / "s.yaml", launcher={"plugin": "dask", "workers": 1, "threads_per_worker": 2})
    run, _ = prepare_run(spec, load_registry())
    with run.experiment.launcher.connect(run) as pool:
        futures = [pool.submit(time.sleep, 30) for _ in range(20)]
        before = _loop_tasks(pool.client)
        for _ in range(200):
            with pytest.raises(TimeoutError):
                next(iter(pool.as_completed(futures, timeout=0.001)))
        after = _loop_tasks(pool.client)
        assert after - before < 20, (before, after)
        pool.client.cancel(futures)


def test_a_finished_future_wakes_the_wait(tmp_path, monkeypatch) -> None:
    """The wait is woken by the future's done-callback, not by the next look at the client:
    with that look an hour away, a 0.5 s task is still taken once it ends."""
    from dnnp_hpo.plugins.launchers import dask_launcher

    monkeypatch.setattr(dask_launcher, "ALIVE_POLL_S", 3600.0)
    spec = write_spec(tmp_path / "s.yaml", launcher={"plugin": "dask", "workers": 1, "threads_per_worker": 2})
    run, _ = prepare_run(spec, load_registry())
    with run.experiment.launcher.connect(run) as pool:
        slow = pool.submit(time.sleep, 30)
        quick = pool.submit(time.sleep, 0.5)
        taken = []
        waiter = threading.Thread(target=lambda: taken.append(next(iter(pool.as_completed([slow, quick])))),
                                  daemon=True)
        waiter.start()
        waiter.join(60)
        assert not waiter.is_alive(), "the wait was not woken when the task ended"
        assert taken == [quick]
        pool.client.cancel([slow])


class _DropTheSchedulerConnection:
    """After the third evaluation, break the driver's connection to its (healthy) scheduler
    and stay busy while the client reconnects: the client cancels every future meanwhile."""

    def __init__(self) -> None:
        self.finished = 0

    @hookimpl
    def dnnp_hpo_evaluation_finished(self, run, evaluation) -> None:
        from distributed import default_client

        self.finished += 1
        if self.finished == 3:
            client = default_client()
            client.loop.add_callback(client.scheduler_comm.comm.abort)
            deadline = time.monotonic() + 30
            while client.status != "running" or client.scheduler_comm is None:
                assert time.monotonic() < deadline, "the client did not reconnect"
                time.sleep(0.05)
            time.sleep(0.5)


def test_futures_cancelled_by_a_reconnecting_client_stop_the_run_and_it_resumes(tmp_path) -> None:
    """A moment's loss of the scheduler connection (the scheduler stays up): the client
    reconnects, but every future in flight was cancelled.  The run stops (EngineLost)
    with those births pending, none recorded lost; run again, it finishes with each
    birth once.  Before, each cancelled future was recorded lost with the MAXINT fitness."""
    from launchers_testutil import assert_every_evaluation_once, run_in_process

    from dnnp_hpo.errors import EngineLost
    from dnnp_hpo.journal import Journal

    spec = write_spec(tmp_path / "blip.yaml", pop_size=4, generations=2,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:slow_zdt1"},
                      launcher={"plugin": "dask", "workers": 1, "threads_per_worker": 2})
    with pytest.raises(EngineLost, match="the engine cancelled evaluation|lost the Dask scheduler"):
        run_in_process(spec, extra_plugins=[_DropTheSchedulerConnection()])
    run_dir = tmp_path / "run-blip"
    with Journal.of(run_dir, readonly=True) as journal:
        assert journal.evaluations("lost") == []
        assert journal.running(), "the cancelled births are pending"
    run_in_process(spec)
    rows = assert_every_evaluation_once(run_dir, 12)
    assert {r["status"] for r in rows} == {"ok"}


def test_a_result_lost_with_the_last_worker_gives_the_engine_up_instead_of_waiting_for_ever(
        dask_processes, wait_until) -> None:
    """A task done when the Study looked, whose worker then died with its result: Dask
    computes it again once a worker is there, so ``result()`` waited for ever with none
    left (a test hung 10 minutes under two test processes).  Now the pool gives the engine
    up after its wait_timeout, the birth left in flight.  Real scheduler and worker."""
    import os
    import signal

    from distributed import Client

    from dnnp_hpo.errors import EngineLost
    from dnnp_hpo.plugins.launchers.dask_launcher import DaskPool

    cluster = dask_processes(1)
    cluster.wait_ready(1)
    with Client(scheduler_file=str(cluster.scheduler_file), timeout=30) as client:
        pool = DaskPool(client, retries=0, workerless_limit=3.0)
        task = pool.submit(sum, [1, 2])
        assert wait_until(task.done, 30)
        os.kill(cluster.workers[0].pid, signal.SIGKILL)
        assert wait_until(lambda: not task.done(), 30), "the client never heard the result was lost"
        outcome: list[BaseException | object] = []

        def take() -> None:
            try:
                outcome.append(task.result())
            except BaseException as exc:  # noqa: BLE001 - what it raised is the point
                outcome.append(exc)

        waiter = threading.Thread(target=take, daemon=True)
        waiter.start()
        waiter.join(60)
        assert not waiter.is_alive(), "result() still waits for a worker"
        assert isinstance(outcome[0], EngineLost), outcome
        assert "no Dask worker has been connected to the scheduler" in str(outcome[0])


def _raises_timeout() -> None:
    raise TimeoutError("raised by the task itself")


def test_a_task_that_raised_timeouterror_is_taken_not_waited_for_again(tmp_path) -> None:
    """result(timeout=...) raises TimeoutError for its own wait and for a task that raised
    it: such a task was read as one still running, and waited for for ever (helper-118;
    reachable from a plugin's code outside its trainer's train()).  The task's error is
    raised, at once."""
    spec = write_spec(tmp_path / "s.yaml", launcher={"plugin": "dask", "workers": 1, "threads_per_worker": 1})
    run, _ = prepare_run(spec, load_registry())
    with run.experiment.launcher.connect(run) as pool:
        task = pool.submit(_raises_timeout)
        deadline = time.monotonic() + 60
        while not task.done() and time.monotonic() < deadline:
            time.sleep(0.05)
        raised = []

        def take() -> None:
            try:
                task.result()
            except BaseException as exc:  # noqa: BLE001 - what the wait gives, looked at below
                raised.append(exc)

        waiter = threading.Thread(target=take, daemon=True)
        waiter.start()
        waiter.join(10)
        assert not waiter.is_alive(), "the task's own TimeoutError was waited on as if it still ran"
        assert [type(e) for e in raised] == [TimeoutError] and str(raised[0]) == "raised by the task itself", raised


def test_a_call_in_a_thread_that_raised_timeouterror_is_an_answer() -> None:
    """The same for the launchers' calls in a thread of their own (a stop order, Parsl's
    worker count and cleanup): STILL_RUNNING only while the call runs."""
    from dnnp_hpo.plugins.launchers.background import STILL_RUNNING, answer, in_thread

    release = threading.Event()
    running = in_thread(release.wait, "test-still-running")
    assert answer(running, 0.05) is STILL_RUNNING
    release.set()
    assert answer(running, 5) is True
    failed = in_thread(_raises_timeout, "test-raises-timeout")
    concurrent.futures.wait([failed], timeout=10)
    with pytest.raises(TimeoutError, match="raised by the task itself"):
        answer(failed, 0.05)
