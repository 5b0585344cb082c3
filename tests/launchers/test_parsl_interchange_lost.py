"""Parsl's interchange killed mid-run (a login node's reaper, the OOM killer): a review found
hpo-run hanging for ever, deaf to Ctrl-C and SIGTERM, its worker pools left running.

Parsl never notices a dead interchange (no task fails, the executor is not put in its bad
state), and every question to it waited for ever: the steady-state search's count of the
workers, and Parsl's cleanup.  The real ``hpo-run`` on Parsl's local provider (a real
interchange and worker pool), its real interchange SIGKILLed while evaluations run: it
stops within seconds with one line and exit 3, the finished evaluations recorded, those
in flight pending for a resume, and no process of the run left.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from cli_testutil import from_a_terminal
from launchers_testutil import VENV_BIN, assert_every_evaluation_once, read_csv, write_spec

#: seconds each evaluation sleeps: two finish, the next two are in flight at the kill
SLEEP_S = "4"
#: seconds hpo-run may take to stop once its interchange died (seconds expected; generous
#: for a loaded 2-core machine)
STOP_S = 30


def _interchanges(cwd: Path) -> list[psutil.Process]:
    """The Parsl interchanges working in ``cwd``, the directory their driver ran in."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            # by its title or module, not the word: this file's temporary directories hold it
            command = " ".join(proc.info.get("cmdline") or [])
            if ("HTEX interchange" in command or "launchers.parsl_interchange" in command) and Path(proc.cwd()) == cwd:
                found.append(proc)
        except psutil.Error:
            pass
    return found


def _of_the_run(session: int, cwd: Path) -> list[psutil.Process]:
    """Processes of the run still alive (zombies not counted): hpo-run's session (it, the
    blocks and their worker pools; started in a session of its own), and its interchange
    (in a session of its own)."""
    found = []
    for proc in psutil.process_iter(["pid", "status"]):
        try:
            if proc.info["status"] != psutil.STATUS_ZOMBIE and os.getsid(proc.pid) == session:
                found.append(proc)
        except (psutil.Error, OSError):
            pass
    return found + [p for p in _interchanges(cwd) if p.status() != psutil.STATUS_ZOMBIE]


def _run_and_kill_the_interchange(tmp_path: Path, worker_env: dict[str, str], optimizer: dict,
                                  then_signal: int | None = None) -> tuple[subprocess.Popen, str, float, Path]:
    spec = write_spec(tmp_path / "lost.yaml", optimizer=optimizer,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:slow_zdt1"},
                      launcher={"plugin": "parsl", "provider": "local", "workers_per_node": 2})
    run_dir = tmp_path / "run-lost"
    driver = subprocess.Popen(from_a_terminal([str(VENV_BIN / "hpo-run"), str(spec)]), cwd=tmp_path,
                              env={**worker_env, "HPO_TEST_SLEEP": SLEEP_S}, stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        rows = run_dir / "individuals.csv"
        while len(read_csv(rows) if rows.exists() else []) < 2:
            assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[1]
            time.sleep(0.1)
        interchanges = _interchanges(tmp_path)
        assert len(interchanges) == 1, f"interchanges found: {interchanges}"
        interchanges[0].kill()
        killed = time.monotonic()
        if then_signal is not None:
            time.sleep(0.2)
            os.kill(driver.pid, then_signal)
        try:
            _, stderr = driver.communicate(timeout=STOP_S)  # it hung here for ever
        except subprocess.TimeoutExpired:
            pytest.fail(f"hpo-run still running {STOP_S} s after its interchange was killed")
        return driver, stderr, time.monotonic() - killed, run_dir
    finally:
        if driver.poll() is None:  # the old code hung: only SIGKILL ended it, and left the worker pools
            for proc in _of_the_run(driver.pid, tmp_path):  # the blocks are process groups of their own
                with contextlib.suppress(psutil.Error):
                    proc.kill()
            driver.wait()


def _assert_nothing_left(driver: subprocess.Popen, tmp_path: Path) -> None:
    deadline = time.monotonic() + 15  # the worker pools stop at the provider's SIGTERM
    while (left := _of_the_run(driver.pid, tmp_path)) and time.monotonic() < deadline:
        time.sleep(0.2)
    try:
        assert left == [], f"processes of the run left: {[(p.pid, p.cmdline()) for p in left]}"
    finally:
        for proc in left:
            with contextlib.suppress(psutil.Error):
                proc.kill()


def _assert_in_flight_pending(run_dir: Path) -> None:
    from dnnp_hpo.journal import Journal

    with Journal.of(run_dir, readonly=True) as journal:
        finished, running = journal.evaluations(), journal.running()
    assert len(finished) >= 2 and {e.status for e in finished} == {"ok"}, [e.reason for e in finished]
    assert len(running) >= 1, "the evaluations in flight at the kill are pending, to be sent again"
    assert {e.trial.birth_id for e in finished}.isdisjoint(t.birth_id for t in running)


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", [
    {"plugin": "nsga2", "pop_size": 4, "generations": 1},  # waits for a result
    {"plugin": "nsga2-async", "pop_size": 4, "max_births": 8},  # counts the workers too
], ids=["nsga2", "nsga2-async"])
def test_a_killed_interchange_stops_the_run_with_one_line(tmp_path: Path, worker_env, optimizer: dict) -> None:
    driver, stderr, took, run_dir = _run_and_kill_the_interchange(tmp_path, worker_env, optimizer)
    print(f"hpo-run stopped {took:.1f} s after its interchange was killed: {stderr.strip().splitlines()[-1:]}")
    assert driver.returncode == 3, stderr
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("hpo-run: the engine was lost: launcher: Parsl's interchange (pid "), stderr
    assert "exited (killed by SIGKILL)" in last and last.endswith("run hpo-run again to resume"), last
    assert took < 20, f"{took:.1f} s to notice the dead interchange"
    _assert_in_flight_pending(run_dir)
    _assert_nothing_left(driver, tmp_path)
    if optimizer["plugin"] == "nsga2":  # the same command resumes, on a new interchange
        again = subprocess.run([str(VENV_BIN / "hpo-run"), str(tmp_path / "lost.yaml")], cwd=tmp_path,
                               env={**worker_env, "HPO_TEST_SLEEP": "0"}, capture_output=True, text=True,
                               timeout=180, check=False)
        assert again.returncode == 0, again.stderr[-2000:]
        assert_every_evaluation_once(run_dir, 8)


@pytest.mark.slow
def test_ctrl_c_after_the_interchange_died_still_stops_the_run(tmp_path: Path, worker_env) -> None:
    """Ctrl-C right after the kill (before or after hpo-run noticed): it stops either way,
    and its cleanup does not wait for the dead interchange."""
    driver, stderr, took, run_dir = _run_and_kill_the_interchange(
        tmp_path, worker_env, {"plugin": "nsga2-async", "pop_size": 4, "max_births": 8}, then_signal=signal.SIGINT)
    print(f"hpo-run stopped {took:.1f} s after its interchange was killed (SIGINT 0.2 s after): "
          f"exit {driver.returncode}")
    assert driver.returncode in (3, 130), stderr
    assert "Traceback" not in stderr, stderr
    last = stderr.strip().splitlines()[-1]
    assert last == "hpo-run: interrupted" or last.startswith("hpo-run: the engine was lost: "), stderr
    _assert_in_flight_pending(run_dir)
    _assert_nothing_left(driver, tmp_path)
