"""A local Dask cluster whose workers cannot start: real hpo-run, real LocalCluster, real
worker processes that exit as they start."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import psutil
from hpo_testutil import subprocess_env, write_spec, zdt_spec

#: hpo-run as a plugin author's script without the ``if __name__ == "__main__":`` guard:
#: each worker process Dask spawns runs it again, is refused the run directory its driver
#: holds, and exits with status 2
UNGUARDED = "from dnnp_hpo.entry import hpo_run\nhpo_run()\n"


def test_workers_that_exit_as_they_start_are_one_line_and_exit_3(tmp_path) -> None:
    """Their nannies started them again for ever, and hpo-run waited inside
    LocalCluster() for ever, deaf to Ctrl-C and SIGTERM (helper-128: over 10 minutes,
    then kill -9)."""
    script = tmp_path / "my_hpo_run.py"
    script.write_text(UNGUARDED, encoding="utf-8")
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=2, generations=0, workers=2))
    started = time.monotonic()
    driver = subprocess.Popen([sys.executable, str(script), str(spec)], cwd=tmp_path, env=subprocess_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    left: list[psutil.Process] = []
    try:
        _, stderr = driver.communicate(timeout=120)
        took = time.monotonic() - started
        deadline = time.monotonic() + 5  # a worker process killed a moment ago
        while (left := [p for p in psutil.process_iter() if _in_group(p, driver.pid)]) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        if driver.poll() is None or left:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 3, stderr
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("hpo-run: could not launch: dask: the local workers cannot start (worker "), last
    assert ": exit status 2; what they printed is above)" in last
    assert 'under if __name__ == "__main__"' in last
    # what the workers printed is there; no traceback of Dask's
    assert "is in use by another hpo-run" in stderr and "Traceback" not in stderr, stderr
    assert not left, f"left running: {left}"
    assert took < 60, took  # seconds, where it was for ever (the start takes 2 to 5 s here)


def _in_group(process: psutil.Process, pgid: int) -> bool:
    try:  # a zombie has ended (its parent, gone, cannot reap it: here no init reaps either)
        return os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE
    except (OSError, psutil.Error):
        return False


def test_the_local_workers_share_the_machine_s_memory(tmp_path) -> None:
    """Each of n local workers may use 1/n of the machine's memory, as LocalCluster gives
    its n_workers; started without n_workers (then scaled to n), each had been given the
    memory of its threads' share of the cores: 8 workers on 2 cores, 4 times the machine."""
    from distributed.system import MEMORY_LIMIT

    from dnnp_hpo.plugins.launchers.dask_launcher import LocalEngine

    class Run:
        run_dir = tmp_path

    with LocalEngine(4, 1, False, tmp_path / "dask").client(Run()) as client:
        limits = [w["memory_limit"] for w in client.scheduler_info()["workers"].values()]
    assert len(limits) == 4
    assert all(abs(limit - MEMORY_LIMIT / 4) < MEMORY_LIMIT / 400 for limit in limits), (limits, MEMORY_LIMIT)


def test_workers_that_fail_as_they_initialise_are_one_line_and_exit_3(tmp_path, hpo_run_exe) -> None:
    """A worker that raises as it initialises (here: a DASK_* setting it cannot read) is not
    started again by its nanny: the count of exits never came, and hpo-run waited 600 s
    (helper-130), where LocalCluster(n_workers=n) had failed at once."""
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=2, generations=0, workers=2))
    started = time.monotonic()
    done = subprocess.run([str(hpo_run_exe), str(spec)], cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env=subprocess_env(DASK_DISTRIBUTED__WORKER__MEMORY__TARGET="bogus"), check=False)
    assert done.returncode == 3, done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("hpo-run: could not launch: dask: the local workers cannot start (worker "), last
    assert time.monotonic() - started < 60
