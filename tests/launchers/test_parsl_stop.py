"""Stop signals to a run on Parsl (a review found hpo-run hanging for ever, every provider).

Ctrl-C and SIGHUP reach the terminal's whole foreground process group, and a batch system
or ``kill -TERM -PGID`` the whole group too: Parsl's interchange, a child of hpo-run in that
group, died of it, and Parsl's cleanup then waited for its answer for ever.  The real
``hpo-run`` on Parsl's local provider (a real interchange and worker pool), stopped
mid-run by a signal to its process group: it ends with its one line, leaves no
interchange behind, and the same command resumes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from cli_testutil import from_a_terminal
from launchers_testutil import VENV_BIN, assert_every_evaluation_once, read_csv, write_spec


def _interchanges(cwd: Path) -> list[int]:
    """The Parsl interchanges working in ``cwd``, the directory their driver ran in. Not by
    start time, session or environment: tests run side by side, the interchange starts a
    session of its own, and Parsl's retitling of the process overwrites its /proc environ."""
    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if "interchange" in " ".join(proc.info.get("cmdline") or []) and Path(proc.cwd()) == cwd:
                found.append(proc.pid)
        except psutil.Error:
            pass  # gone meanwhile, or not ours to read
    return found


@pytest.mark.slow
@pytest.mark.parametrize(("stop", "status", "line"), [
    ("SIGINT", 130, "hpo-run: interrupted"),  # SIGHUP, a terminal's too, is held the same way
    ("SIGTERM", 143, "hpo-run: stopped by SIGTERM"),
])
def test_a_stop_signal_to_the_group_stops_a_parsl_run_in_order(tmp_path: Path, worker_env, stop: str,
                                                               status: int, line: str) -> None:
    spec = write_spec(tmp_path / "stop.yaml", pop_size=4, generations=3,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:slow_zdt1"},
                      launcher={"plugin": "parsl", "provider": "local", "workers_per_node": 2})
    run_dir = tmp_path / "run-stop"
    argv = [str(VENV_BIN / "hpo-run"), str(spec)]
    # as a terminal starts it: under a runner that ignores SIGINT (a background job) hpo-run
    # would keep it ignored, as under nohup, and the run went on to its end
    driver = subprocess.Popen(from_a_terminal(argv), cwd=tmp_path, env=worker_env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while len(read_csv(run_dir / "individuals.csv") if (run_dir / "individuals.csv").exists() else []) < 2:
            assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[1]
            time.sleep(0.1)
        at_signal = len(read_csv(run_dir / "individuals.csv"))
        assert _interchanges(tmp_path), "no interchange found to watch"
        os.killpg(driver.pid, getattr(signal, stop))
        _, stderr = driver.communicate(timeout=90)  # it hung here for ever
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
            driver.wait()
            for pid in _interchanges(tmp_path):  # in a session of its own: not in the group
                os.kill(pid, signal.SIGKILL)
    at_end = len(read_csv(run_dir / "individuals.csv"))
    assert driver.returncode == status, (f"{at_signal} of 16 evaluations recorded at the signal, "
                                         f"{at_end} at the end: {stderr}")
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == line, stderr
    deadline = time.monotonic() + 15  # Parsl's shutdown: SIGTERM, then SIGKILL after 10 s
    while _interchanges(tmp_path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _interchanges(tmp_path) == [], "the interchange outlived the run"

    # the resume only has to finish: without slow_zdt1's half-second sleeps
    again = subprocess.run(argv, cwd=tmp_path, env={**worker_env, "HPO_TEST_SLEEP": "0"}, capture_output=True,
                           text=True, timeout=300, check=False)
    assert again.returncode == 0, again.stderr[-2000:]
    assert_every_evaluation_once(run_dir, 16)
