"""Ctrl-C in a terminal: SIGINT to hpo-run's whole process group, its local Dask workers
included, as a terminal sends it.  The run stops with one line and exit 130, and the same
command resumes it; also while the local cluster starts."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from cli_testutil import from_a_terminal
from hpo_testutil import subprocess_env, write_spec, zdt_spec

from dnnp_hpo.journal import Journal

#: where dask_start_gate (a nanny preload that holds a local cluster's start open) lives
LAUNCHER_TESTS = Path(__file__).resolve().parents[1] / "launchers"


def _with_nanny_preload(module: str, **variables: str) -> dict[str, str]:
    """hpo-run's environment with a test nanny preload of tests/launchers loaded into the
    process that runs a local cluster's nannies (hpo-run itself), and its variables."""
    env = subprocess_env(**variables)
    env["PYTHONPATH"] = os.pathsep.join([str(LAUNCHER_TESTS), env["PYTHONPATH"]])
    env["DASK_DISTRIBUTED__NANNY__PRELOAD"] = f'["{module}"]'
    return env


def _dask_workers(driver_pid: int) -> set[int]:
    """The local workers that are up: the driver's children titled so once started."""
    up = set()
    for child in psutil.Process(driver_pid).children():
        try:
            if child.cmdline()[:1] and child.cmdline()[0].startswith("dask worker"):
                up.add(child.pid)
        except psutil.Error:
            pass  # gone, or a zombie until the nanny reaps it
    return up


def _spawned_workers(driver_pid: int) -> set[int]:
    """The worker processes spawned so far, started or not (titled so only once started)."""
    spawned = set()
    for child in psutil.Process(driver_pid).children():
        try:
            argv = child.cmdline()
        except psutil.Error:
            continue
        if argv and (argv[0].startswith("dask worker") or any("spawn_main" in a for a in argv)):
            spawned.add(child.pid)
    return spawned


def _send(driver: subprocess.Popen, stop: str) -> None:
    if stop == "SIGTERM":  # a reaper's, to hpo-run alone
        os.kill(driver.pid, signal.SIGTERM)
    else:  # the terminal signals the foreground group; a batch system stopping the job, too
        os.killpg(driver.pid, getattr(signal, stop.removesuffix("-group")))


def _last_line(stop: str) -> str:
    return "hpo-run: interrupted" if stop == "SIGINT" else f"hpo-run: stopped by {stop.removesuffix('-group')}"


def _replace_a_worker(driver: subprocess.Popen, deadline: float) -> None:
    """SIGKILL one worker and wait for its nanny to start another: the new one is spawned
    while hpo-run handles SIGINT itself, so it does not inherit an ignored SIGINT."""
    before = _dask_workers(driver.pid)
    assert len(before) == 2, before
    os.kill(min(before), signal.SIGKILL)
    while not _dask_workers(driver.pid) - before:
        assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[1]
        time.sleep(0.1)
    time.sleep(1)


@pytest.mark.parametrize(("presses", "worker_died", "stop"),
                         [(1, False, "SIGINT"), (2, False, "SIGINT"), (1, True, "SIGINT"),
                          (1, False, "SIGTERM"), (1, False, "SIGHUP")],
                         ids=["ctrl-c", "ctrl-c-twice", "ctrl-c-after-a-worker-died", "sigterm", "sighup"])
def test_ctrl_c_is_one_line_and_the_run_resumes(tmp_path, hpo_run_exe, presses: int, worker_died: bool,
                                                stop: str) -> None:
    """...and SIGTERM (a batch system's or a reaper's, to hpo-run alone) and SIGHUP (a
    dropped ssh session, to the whole group) stop it the same way, exit 128 + the signal:
    left at their defaults they ended hpo-run at once, a Parsl run's batch jobs left running."""
    run_dir = tmp_path / "run"
    generations = 8 if worker_died else 2  # time to replace a worker before the run ends
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(run_dir, pop_size=4, generations=generations, workers=2,
                                                    callable_="hpo_testfuncs:slow_zdt1"))
    argv = [str(hpo_run_exe), str(spec)]
    driver = subprocess.Popen(from_a_terminal(argv), cwd=tmp_path, env=subprocess_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "individuals.csv").exists():  # a first evaluation is recorded
            assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[1]
            time.sleep(0.1)
        if worker_died:
            _replace_a_worker(driver, deadline)
        for press in range(presses):
            # a second press only tests something while hpo-run is still stopping
            assert press == 0 or driver.poll() is None, "stopped before the second press"
            _send(driver, stop)
            time.sleep(0.3)
        _, stderr = driver.communicate(timeout=120)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    number = getattr(signal, stop)
    assert driver.returncode == (130 if stop == "SIGINT" else 128 + number), stderr
    assert "Traceback" not in stderr and "Error" not in stderr, stderr
    assert stderr.strip().splitlines()[-1] == _last_line(stop), stderr

    # the resume only has to finish: without the half-second sleeps
    resumed = subprocess.run(argv, cwd=tmp_path, env=subprocess_env(HPO_TEST_SLEEP="0"), capture_output=True,
                             text=True, timeout=300, check=False)
    assert resumed.returncode == 0, resumed.stderr
    with Journal.of(run_dir, readonly=True) as journal:
        births = [e.trial.birth_id for e in journal.evaluations()]
    assert sorted(births) == list(range(4 * (generations + 1))), births


@pytest.mark.parametrize("stop", ["SIGINT", "SIGHUP", "SIGTERM", "SIGTERM-group"])
def test_a_stop_while_the_local_cluster_starts_is_one_line_once_it_has_started(tmp_path, hpo_run_exe,
                                                                              stop: str) -> None:
    """hpo-run set SIGINT and SIGHUP to SIG_IGN while its local cluster started (1.5 to 3
    s, more on a loaded machine) so that its workers inherited them ignored: a Ctrl-C or a
    hangup then was lost, and the run went on to its end with exit 0.  SIGTERM stopped it
    half-way through starting the cluster: its line, then some thirty lines of tracebacks
    (distributed's exit hook, the workers being spawned) and a leaked-semaphore warning.
    Now a stop while the scheduler starts waits for it to be up; one while the workers
    start stops the run there, and the cluster is shut down in order.
    SIGTERM to the whole group (a batch system stopping the job) killed a worker still
    importing, and hpo-run waited for it for ever, deaf to further signals (helper-82).

    The cluster's start is held open by a nanny preload (tests/launchers/dask_start_gate.py)
    until the signal is sent, as the first worker is spawned (so that it reaches a worker
    still importing, if it can)."""
    run_dir = tmp_path / "run"
    gate = tmp_path / "gate"
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(run_dir, pop_size=4, generations=1, workers=2,
                                                    callable_="hpo_testfuncs:slow_zdt1"))
    env = _with_nanny_preload("dask_start_gate", HPO_TEST_START_GATE=str(gate))
    argv = [str(hpo_run_exe), str(spec)]
    driver = subprocess.Popen(from_a_terminal(argv), cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while not (_spawned_workers(driver.pid) and Path(f"{gate}.held").exists()):
            assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[1]
            time.sleep(0.01)
        _send(driver, stop)
        gate.touch()  # the cluster finishes starting
        _, stderr = driver.communicate(timeout=60)
        deadline = time.monotonic() + 10
        while _group(driver.pid) and time.monotonic() < deadline:  # the workers, the resource tracker
            time.sleep(0.1)
        left = _group(driver.pid)
    finally:
        if driver.poll() is None or _group(driver.pid):
            os.killpg(driver.pid, signal.SIGKILL)
    assert not left, f"left running: {left}"
    assert driver.returncode == 128 + getattr(signal, stop.removesuffix("-group")), stderr
    assert stderr.strip().splitlines() == [_last_line(stop)], stderr

    resumed = subprocess.run(argv, cwd=tmp_path, env=subprocess_env(HPO_TEST_SLEEP="0"), capture_output=True,
                             text=True, timeout=120, check=False)
    assert resumed.returncode == 0, resumed.stderr
    with Journal.of(run_dir, readonly=True) as journal:
        births = [e.trial.birth_id for e in journal.evaluations()]
    assert sorted(births) == list(range(4 * 2)), births


def _group(pgid: int) -> list[str]:
    """The processes of process group ``pgid``, each as its command line."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                found.append(" ".join(process.cmdline()))
        except (OSError, psutil.Error):
            pass  # gone meanwhile
    return found


def test_a_run_under_nohup_outlives_the_session(tmp_path, hpo_run_exe) -> None:
    """`nohup hpo-run ...` ignores SIGHUP, and hpo-run keeps it ignored: the hangup of a
    dropped session does not stop the run (only a SIGHUP not ignored does, in order)."""
    run_dir = tmp_path / "run"
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(run_dir, pop_size=4, generations=2, workers=2,
                                                    callable_="hpo_testfuncs:slow_zdt1"))
    driver = subprocess.Popen(["nohup", str(hpo_run_exe), str(spec)], cwd=tmp_path, env=subprocess_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while not (run_dir / "individuals.csv").exists():
            assert driver.poll() is None and time.monotonic() < deadline, driver.communicate()[1]
            time.sleep(0.1)
        os.killpg(driver.pid, signal.SIGHUP)
        _, stderr = driver.communicate(timeout=180)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    assert driver.returncode == 0, stderr
    with Journal.of(run_dir, readonly=True) as journal:
        assert journal.meta("finished", False) and len(journal.evaluations()) == 12


def _catches(pid: int, number: int) -> bool:
    """Whether the process has a handler of its own for signal ``number`` (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("SigCgt:"):
            return bool(int(line.split()[1], 16) >> (number - 1) & 1)
    return False


def _numpy_loaded(pid: int) -> bool:
    return "_multiarray_umath" in Path(f"/proc/{pid}/maps").read_text()


@pytest.mark.parametrize("stop", ["SIGINT", "SIGHUP", "SIGTERM"])
def test_a_stop_while_hpo_run_imports_its_modules_is_one_line(tmp_path, hpo_run_exe, stop: str) -> None:
    """hpo-run took its stop signals only once numpy, rich and cattrs were imported (about
    half a second): a Ctrl-C then gave a traceback from inside an import, SIGTERM and
    SIGHUP ended it without a line.  The signal is sent as soon as hpo-run catches SIGTERM
    (SIGHUP: SIGHUP, set last), and counts only when numpy is not yet loaded then (its
    library is not in the maps).  SIGINT then lands while the handlers are still being
    set: it gave a traceback from there (CI, now and then) until that was done inside the
    frame that makes a stop one line."""
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=1, workers=1))
    # Python catches SIGINT itself from its start: hpo-run's own is set just before SIGTERM's
    caught = signal.SIGHUP if stop == "SIGHUP" else signal.SIGTERM
    during_imports = 0
    for _attempt in range(5):
        driver = subprocess.Popen(from_a_terminal([str(hpo_run_exe), str(spec), "--dry-run"]), cwd=tmp_path,
                                  env=subprocess_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  start_new_session=True)
        try:
            while driver.poll() is None and not _catches(driver.pid, caught):
                time.sleep(0.0005)
            if driver.poll() is not None:
                continue  # ended first (a dry run is short): this attempt tells nothing
            early = not _numpy_loaded(driver.pid)
            _send(driver, stop)
            _, stderr = driver.communicate(timeout=60)
        finally:
            if driver.poll() is None:
                os.killpg(driver.pid, signal.SIGKILL)
        if not early:
            continue
        during_imports += 1
        number = getattr(signal, stop)
        assert driver.returncode == (130 if stop == "SIGINT" else 128 + number), stderr
        assert stderr.strip().splitlines() == [_last_line(stop)], stderr
    assert during_imports >= 2, "hpo-run should catch stop signals before it imports numpy"
    assert not (tmp_path / "run").exists(), "nothing was started"


def test_a_stop_signal_in_the_interpreters_teardown_leaves_the_status_alone(tmp_path, hpo_run_exe) -> None:
    """After the exit handlers, Python puts every signal with a Python handler back to its
    default, then tears its modules down (0.2-1.5 s after a run): a SIGTERM then, a batch
    system's second or the group's, killed a finished hpo-run by signal 15 (helper-84's
    soak).  Here the SIGTERM comes from inside that teardown, so the test is not a race."""
    from hpo_testutil import run_cli

    spec = write_spec(tmp_path / "spec.yaml", zdt_spec(tmp_path / "run", pop_size=2, generations=0,
                                                       callable_="hpo_testfuncs:two_spheres"))
    done = run_cli(hpo_run_exe, str(spec), cwd=tmp_path, HPO_TEST_TERM_AT_TEARDOWN="1")
    assert done.returncode == 0, (done.returncode, done.stderr)
    assert "Pareto front of the final population" in done.stdout


def test_a_stop_signal_while_the_local_cluster_closes_lets_it_close(tmp_path, hpo_run_exe) -> None:
    """SIGTERM inside cluster.close() at the end of a run interrupted the close: hpo-run
    said 'stopped by SIGTERM', then distributed's exit hook waited 10 s for the half-closed
    cluster (helper-84's soak, 14 of 14 tries).  The stop now waits for the close, then
    ends hpo-run as any stop does; the run is recorded finished and nothing is left."""
    run_dir = tmp_path / "run"
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(run_dir, pop_size=2, generations=0, workers=2,
                                                    callable_="hpo_testfuncs:two_spheres"))
    signalled_at = tmp_path / "signalled_at"
    env = _with_nanny_preload("dask_close_signal", HPO_TEST_CLOSE_SIGNAL="SIGTERM",
                              HPO_TEST_CLOSE_SIGNAL_AT=str(signalled_at))
    driver = subprocess.Popen([str(hpo_run_exe), str(spec)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        _, stderr = driver.communicate(timeout=60)
    finally:
        if driver.poll() is None:
            os.killpg(driver.pid, signal.SIGKILL)
    elapsed = time.monotonic() - float(signalled_at.read_text(encoding="utf-8"))  # from the signal on
    assert driver.returncode == 128 + signal.SIGTERM, (driver.returncode, stderr)
    assert stderr.strip().splitlines() == ["hpo-run: stopped by SIGTERM"], stderr
    assert elapsed < 8, f"{elapsed:.1f} s after the signal: the exit hook waited for a half-closed cluster"
    with Journal.of(run_dir, readonly=True) as journal:
        assert len(journal.evaluations()) == 2
    again = subprocess.run([str(hpo_run_exe), str(spec)], cwd=tmp_path, env=subprocess_env(), capture_output=True,
                           text=True, timeout=60, check=False)
    assert again.returncode == 0 and "is finished" in again.stdout, again.stderr
