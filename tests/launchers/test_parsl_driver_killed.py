"""hpo-run SIGKILLed (``kill -9``, the OOM killer) on Parsl: its interchange, in a session
of its own so that a Ctrl-C to hpo-run's group does not kill it first, outlived it for
good, and the worker pools beating their hearts to it went on too (helper-118: both still
there 150 s later; on a cluster, blocks holding their nodes to the walltime).  The
interchange now ends with its driver, and the pools within ``heartbeat_threshold``.  The
real ``hpo-run`` on Parsl's local provider: a real interchange and worker pool."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from launchers_testutil import VENV_BIN, read_csv, write_spec
from test_parsl_interchange_lost import _interchanges, _of_the_run


def _wait(what, seconds: float) -> float:
    """Seconds until ``what()`` is true; AssertionError after ``seconds``."""
    started = time.monotonic()
    while not what():
        assert time.monotonic() - started < seconds, f"not within {seconds} s"
        time.sleep(0.2)
    return time.monotonic() - started


def test_a_killed_driver_leaves_no_interchange_nor_pool(tmp_path: Path, worker_env) -> None:
    spec = write_spec(tmp_path / "killed.yaml", optimizer={"plugin": "nsga2", "pop_size": 4, "generations": 3},
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:slow_zdt1"},
                      launcher={"plugin": "parsl", "provider": "local", "workers_per_node": 2,
                                "heartbeat_period": 2, "heartbeat_threshold": 5})
    driver = subprocess.Popen([str(VENV_BIN / "hpo-run"), str(spec)], cwd=tmp_path,
                              env={**worker_env, "HPO_TEST_SLEEP": "3"}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL, start_new_session=True)
    rows = tmp_path / "run-killed" / "individuals.csv"
    try:
        _wait(lambda: len(read_csv(rows) if rows.exists() else []) >= 2 or driver.poll() is not None, 120)
        assert driver.poll() is None, "the run ended before it could be killed"
        assert len(_interchanges(tmp_path)) == 1
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait()
        gone = _wait(lambda: not [p for p in _interchanges(tmp_path) if p.status() != "zombie"], 10)
        left = _wait(lambda: not _of_the_run(driver.pid, tmp_path), 60)
        print(f"interchange gone {gone:.1f} s after the kill, every process of the run {left:.1f} s later")
    finally:
        for proc in _of_the_run(driver.pid, tmp_path):
            proc.kill()


def test_an_interchange_whose_driver_died_while_it_started_ends(tmp_path: Path) -> None:
    """The driver's pid comes as an argument: an interchange that looked at its parent
    once it ran saw init if hpo-run had died while Python started (seconds on a parallel
    file system), and outlived it for good (helper-119).  Here the driver named is a
    process that has already ended, and the interchange, which waits for Parsl's settings
    on its stdin, ends by itself."""
    import sys

    gone = subprocess.Popen(["true"])
    gone.wait()
    interchange = subprocess.Popen([sys.executable, "-m", "dnnp_hpo.plugins.launchers.parsl_interchange",
                                    str(gone.pid)], stdin=subprocess.PIPE, cwd=tmp_path)
    try:
        assert interchange.wait(timeout=30) == 1
    finally:
        interchange.kill()
        interchange.stdin.close()
