"""A report on a run still in progress says so on its line, and summary.md says how many
evaluations are still running.

A review's live run: hpo-report's line never said the run was unfinished, and summary.md
said "no (report of the last recorded generation)" without the evaluations in flight.
Here a real hpo-run (the function trainer) whose generation-1 trainings wait while a
file exists: generation 0 is recorded and its offspring are running while the report
is made.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dnnp_hpo.journal import Journal
from dnnp_hpo.problems import zdt1

BIN = Path(sys.executable).parent
HERE = Path(__file__).resolve().parent
POP_SIZE = 4


def zdt1_held_after_generation_0(params):
    """ZDT1; the calls after the first POP_SIZE (generation 0, one worker) wait while the
    file $HPO_TEST_HOLD_LIVE exists (five minutes at most: the test removes it).  Run on the Dask worker."""
    calls = Path(os.environ["HPO_TEST_CALLS_LIVE"])
    (calls / f"{os.getpid()}.{time.monotonic_ns()}").touch()
    deadline = time.monotonic() + 300
    if len(list(calls.iterdir())) > POP_SIZE:
        while Path(os.environ["HPO_TEST_HOLD_LIVE"]).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    return zdt1(params)


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def running_now(run: Path) -> int:
    """The evaluations running in ``run`` once generation 0 is recorded (0 before)."""
    try:
        with Journal.of(run, readonly=True) as journal:
            return len(journal.running()) if journal.generations() else 0
    except (FileNotFoundError, sqlite3.Error):  # not there yet, or being created
        return 0


@pytest.fixture(scope="module")
def live_report(tmp_path_factory):
    """hpo-report of the live run, and the number of running evaluations its journal held."""
    from cli_testutil import write_spec, zdt_spec

    if not (BIN / "hpo-report").exists():
        pytest.skip("hpo-report is not installed next to this interpreter (pip install -e .)")
    cwd = tmp_path_factory.mktemp("live")
    (cwd / "calls").mkdir()
    hold = cwd / "hold"
    hold.touch()
    env = {**os.environ, "HPO_TEST_CALLS_LIVE": str(cwd / "calls"), "HPO_TEST_HOLD_LIVE": str(hold),
           "PYTHONPATH": os.pathsep.join([str(HERE), str(HERE.parent), os.environ.get("PYTHONPATH", "")])}
    callable_ = f"{Path(__file__).stem}:zdt1_held_after_generation_0"
    spec = write_spec(cwd / "live.yaml", zdt_spec(cwd / "live", pop_size=POP_SIZE, generations=1, callable_=callable_))
    driver = subprocess.Popen([str(BIN / "hpo-run"), str(spec)], cwd=cwd, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: running_now(cwd / "live") == POP_SIZE or driver.poll() is not None)
        assert driver.poll() is None, driver.communicate()
        report = subprocess.run([str(BIN / "hpo-report"), "live"], cwd=cwd, capture_output=True, text=True,
                                timeout=120, check=False)
        still = running_now(cwd / "live")
    finally:
        hold.unlink()
        _, stderr = driver.communicate(timeout=120)
    assert driver.returncode == 0, stderr
    assert still == POP_SIZE  # the report was made while generation 1 was training
    return report, cwd / "live" / "report"


def test_the_closing_line_says_the_run_is_not_finished(live_report):
    report, _ = live_report
    assert report.returncode == 0, report.stderr
    # its driver holds the run directory's lock: the training ones are told from ones a
    # stopped driver left in flight (helper-127: "running or left in flight" either way)
    assert (f"the run is not finished (reported up to generation 0, {POP_SIZE} evaluations running (its driver "
            "is running));" in report.stdout), report.stdout


def test_summary_says_how_many_evaluations_are_still_running(live_report):
    _, out = live_report
    summary = (out / "summary.md").read_text(encoding="utf-8")
    assert (f"| no (report of the last recorded generation; {POP_SIZE} evaluations running (its driver is "
            "running), not finished) |"
            in summary), summary
