"""The ``dask`` launcher joining a scheduler started outside hpo-run (paper, section 2.2.5).

Real ``dask scheduler`` and ``dask worker`` processes on 127.0.0.1, started the way the
shipped batch scripts start them (scheduler file, no nanny, no dashboard).
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
from pathlib import Path

import hpo_launcher_helpers as helpers
import pytest
from cli_testutil import hpo_run
from launchers_testutil import VENV_BIN, assert_every_evaluation_once, read_csv, run_in_process, write_spec

from dnnp_hpo.errors import EngineLost
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.plugins.launchers.dask_launcher import LaunchFailed


def test_scheduler_file_mode_runs_on_external_workers(tmp_path: Path, dask_processes) -> None:
    cluster = dask_processes(2)
    spec = write_spec(tmp_path / "sf.yaml", pop_size=6, generations=1,
                      launcher={"plugin": "dask", "scheduler_file": str(cluster.scheduler_file),
                                "min_workers": 2, "wait_timeout": 60})
    started = time.monotonic()
    run_dir = run_in_process(spec)
    elapsed = time.monotonic() - started
    rows = assert_every_evaluation_once(run_dir, 12)
    assert {r["status"] for r in rows} == {"ok"}
    worker_pids = {str(p.pid) for p in cluster.workers}
    assert {r["pid"] for r in rows} <= worker_pids, "evaluations ran on the external workers"
    log = (run_dir / "launcher.log").read_text()
    assert "2 worker(s)" in log and "waited" in log and "since the scheduler started" in log
    # A joined cluster is not ours to stop (the batch script does it):
    assert cluster.scheduler.poll() is None and all(w.poll() is None for w in cluster.workers)
    print(f"scheduler-file run: {elapsed:.2f} s; {log.strip().splitlines()[-1]}")


def test_min_workers_timeout_is_reported(tmp_path: Path, dask_processes) -> None:
    cluster = dask_processes(1)
    cluster.wait_ready(1)
    spec = write_spec(tmp_path / "few.yaml",
                      launcher={"plugin": "dask", "scheduler_file": str(cluster.scheduler_file),
                                "min_workers": 3, "wait_timeout": 2})
    with pytest.raises(LaunchFailed, match=r"^dask: only 1 of launcher.min_workers 3 worker\(s\) arrived within "
                                           r"launcher.wait_timeout 2 s \(scheduler tcp://"):
        run_in_process(spec)


def test_a_scheduler_lost_while_waiting_for_workers_is_one_line(tmp_path: Path, dask_processes) -> None:
    """The scheduler killed while hpo-run waits for min_workers (a batch job's scheduler
    OOM-killed, its node lost): distributed's "Timed out trying to connect" is an OSError,
    which escaped as a traceback and exit 4 (helper-118).  One line, exit 3 (resumable),
    nothing trained."""
    cluster = dask_processes(0)
    deadline = time.monotonic() + 60
    while not cluster.scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    spec = write_spec(tmp_path / "lost.yaml",
                      launcher={"plugin": "dask", "scheduler_file": str(cluster.scheduler_file),
                                "min_workers": 1, "wait_timeout": 6})
    log = cluster.logs / "scheduler.err"

    def kill_once_joined() -> None:
        deadline = time.monotonic() + 60
        while "Receive client connection" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.5)  # past the client's handshake: in the wait for workers
        cluster.scheduler.kill()

    killer = threading.Thread(target=kill_once_joined, daemon=True)
    killer.start()
    result = hpo_run(str(spec), cwd=tmp_path)
    killer.join()
    assert result.returncode == 3, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr
    assert re.fullmatch(r"hpo-run: could not launch: launcher.scheduler_file: lost the Dask scheduler at "
                        r"tcp://127\.0\.0\.1:\d+ \(scheduler file .*\) before the run began: \w+: .*", lines[0]), lines[0]


def test_shutdown_leaves_a_cluster_it_never_launched_on(tmp_path: Path, dask_processes) -> None:
    """``shutdown: true`` stopped the scheduler and the workers that had come when
    min_workers were not there in time: exit 3 says the same command resumes, and it
    could not (helper-62's review)."""
    cluster = dask_processes(1)
    cluster.wait_ready(1)
    spec = write_spec(tmp_path / "few.yaml",
                      launcher={"plugin": "dask", "scheduler_file": str(cluster.scheduler_file),
                                "min_workers": 2, "wait_timeout": 2, "shutdown": True})
    with pytest.raises(LaunchFailed, match=r"^dask: only 1 of launcher.min_workers 2"):
        run_in_process(spec)
    time.sleep(1)
    assert cluster.scheduler.poll() is None and cluster.workers[0].poll() is None


def test_missing_scheduler_file_is_reported(tmp_path: Path) -> None:
    spec = write_spec(tmp_path / "nofile.yaml",
                      launcher={"plugin": "dask", "scheduler_file": str(tmp_path / "absent.json"),
                                "wait_timeout": 1})
    with pytest.raises(LaunchFailed, match=r"launcher.scheduler_file: .*absent.json did not appear"):
        run_in_process(spec)


@pytest.mark.parametrize(("held", "said"), [
    # Client() raised ValueError: a traceback and exit 4, once the wait was over (helper-110)
    ('{"address": "foo://x:1"}', "holds the address 'foo://x:1', which no Dask scheduler listens on"),
    # said to have not appeared, though it was there
    ("[1]", 'holds no scheduler address (a JSON object with "address") within launcher.wait_timeout'),
    ("", 'holds no scheduler address (a JSON object with "address") within launcher.wait_timeout')])
def test_a_scheduler_file_holding_no_scheduler_s_address_is_said_so(tmp_path: Path, held: str, said: str) -> None:
    (tmp_path / "s.json").write_text(held)
    spec = write_spec(tmp_path / "bad.yaml", launcher={"plugin": "dask", "scheduler_file": str(tmp_path / "s.json"),
                                                       "wait_timeout": 1})
    done = hpo_run(str(spec), cwd=tmp_path, timeout=120)
    assert done.returncode == 3 and done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"launcher.scheduler_file: {tmp_path / 's.json'} {said}" in done.stderr, done.stderr


def test_a_slow_start_is_said_while_hpo_run_waits(tmp_path: Path, capsys, monkeypatch) -> None:
    """A missing scheduler file, or one whose scheduler is gone, was silence for the whole
    wait_timeout (600 s by default), then exit 3 (helper-107): after SLOW_START_S hpo-run
    says what it waits for, and how long at most.  Nothing is said of a quick start
    (every other test here)."""
    import socket

    from dnnp_hpo.plugins.launchers import dask_launcher

    monkeypatch.setattr(dask_launcher, "SLOW_START_S", 0.5)

    def said_while_joining(scheduler_file: Path) -> str:
        spec = write_spec(tmp_path / f"{scheduler_file.stem}.yaml",
                          launcher={"plugin": "dask", "scheduler_file": str(scheduler_file), "wait_timeout": 2})
        with pytest.raises(LaunchFailed):
            run_in_process(spec)
        return capsys.readouterr().err

    absent = tmp_path / "absent.json"
    assert said_while_joining(absent) == (
        f"hpo-run: dask: waiting for the scheduler's address in scheduler file {absent} (up to "
        "launcher.wait_timeout, 2 s); was `dask scheduler --scheduler-file` started?\n")
    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    stale = tmp_path / "stale.json"
    stale.write_text(f'{{"address": "tcp://127.0.0.1:{port}"}}')
    assert said_while_joining(stale) == (
        f"hpo-run: dask: no answer yet from the scheduler at tcp://127.0.0.1:{port} (scheduler file {stale}); "
        "trying up to launcher.wait_timeout, 2 s\n")


def test_unreachable_scheduler_is_reported(tmp_path: Path) -> None:
    """An address where no scheduler listens (a free loopback port): LaunchFailed naming
    the key once the wait is over, not a hang."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    spec = write_spec(tmp_path / "noscheduler.yaml",
                      launcher={"plugin": "dask", "address": f"tcp://127.0.0.1:{port}", "wait_timeout": 2})
    with pytest.raises(LaunchFailed, match=rf"^launcher.address: cannot reach the Dask scheduler at "
                                           rf"tcp://127.0.0.1:{port} \(given address\) within launcher.wait_timeout") \
            as failed:
        run_in_process(spec)
    # distributed's own seconds in tenths: "after 2.0 s", not "after 1.999944336999988 s"
    assert re.search(r"after \d+\.\d s\b", str(failed.value)), failed.value
    # rounded, not cut: a wait_timeout of 8 is not reported as 7.9 s
    from dnnp_hpo.plugins.launchers.dask_launcher import _rounded_seconds
    assert _rounded_seconds(OSError("... after 7.999944336999988 s")) == "... after 8.0 s"
    assert _rounded_seconds(OSError("... after 1.94 s, port 8786")) == "... after 1.9 s, port 8786"
    # a scheduler file left by a scheduler that is gone: the key, then the file
    stale = tmp_path / "stale.json"
    stale.write_text(f'{{"address": "tcp://127.0.0.1:{port}"}}')
    spec = write_spec(tmp_path / "stale.yaml",
                      launcher={"plugin": "dask", "scheduler_file": str(stale), "wait_timeout": 2})
    with pytest.raises(LaunchFailed, match=rf"^launcher.scheduler_file: cannot reach the Dask scheduler at "
                                           rf"tcp://127.0.0.1:{port} \(scheduler file {stale}\) within"):
        run_in_process(spec)


def test_address_mode_and_shutdown(tmp_path: Path, dask_processes) -> None:
    import json

    cluster = dask_processes(1)
    cluster.wait_ready(1)
    address = json.loads(cluster.scheduler_file.read_text())["address"]
    spec = write_spec(tmp_path / "addr.yaml", pop_size=4, generations=0,
                      launcher={"plugin": "dask", "address": address, "min_workers": 1, "shutdown": True})
    run_dir = run_in_process(spec)
    assert_every_evaluation_once(run_dir, 4)
    cluster.scheduler.wait(30)  # shutdown: true stops the scheduler and its workers
    cluster.workers[0].wait(30)


@pytest.mark.slow
def test_worker_killed_mid_evaluation_loses_nothing(tmp_path: Path, dask_processes,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    markers = tmp_path / "running"
    markers.mkdir()
    monkeypatch.setenv(helpers.MARKER_VARIABLE, str(markers))  # the workers inherit these
    monkeypatch.setenv(helpers.SLEEP_VARIABLE, "0.4")
    cluster = dask_processes(2)
    victim = cluster.workers[0]
    pop_size, generations = 6, 2
    spec = write_spec(tmp_path / "kill.yaml", pop_size=pop_size, generations=generations,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:slow_zdt1"},
                      launcher={"plugin": "dask", "scheduler_file": str(cluster.scheduler_file),
                                "min_workers": 2})
    killed: list[str] = []

    def kill_when_busy() -> None:
        # SIGKILL the worker while an evaluation is running on it (its marker file exists).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            running = [m.name for m in markers.iterdir() if m.name.startswith(f"{victim.pid}.")]
            if running:
                os.kill(victim.pid, signal.SIGKILL)
                killed.extend(running)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    run_dir = run_in_process(spec)
    killer.join(5)
    assert killed, "the worker was never seen running an evaluation"
    assert victim.wait(5) == -signal.SIGKILL
    rows = assert_every_evaluation_once(run_dir, pop_size * (generations + 1))
    # The interrupted evaluation was re-run by Dask on the surviving worker (or, had Dask
    # given up, recorded as lost): never silently dropped.
    assert all(r["status"] in ("ok", "lost") for r in rows)
    survivors = {str(w.pid) for w in cluster.workers[1:]}
    after_kill = [r for r in rows if r["pid"] in survivors]
    assert after_kill, "the surviving worker took over"
    print(f"killed worker {victim.pid} mid-evaluation; statuses: "
          f"{sorted({r['status'] for r in rows})}; rows: {len(rows)}")


@pytest.mark.slow
def test_rerun_of_a_training_with_a_workdir_trains_again(tmp_path: Path, dask_processes,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    markers = tmp_path / "running"
    markers.mkdir()
    monkeypatch.setenv(helpers.MARKER_VARIABLE, str(markers))
    monkeypatch.setenv(helpers.SLEEP_VARIABLE, "1.0")
    cluster = dask_processes(2)
    victim = cluster.workers[0]
    spec = write_spec(tmp_path / "rerun.yaml", pop_size=4, generations=0,
                      trainer={"plugin": "launched_zdt1"},
                      launcher={"plugin": "dask", "scheduler_file": str(cluster.scheduler_file), "min_workers": 2})

    def kill_when_busy() -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if any(m.name.startswith(f"{victim.pid}.") for m in markers.iterdir()):
                os.kill(victim.pid, signal.SIGKILL)
                return
            time.sleep(0.02)

    killer = threading.Thread(target=kill_when_busy, daemon=True)
    killer.start()
    run_dir = run_in_process(spec, extra_plugins=(helpers,))
    killer.join(5)
    rows = assert_every_evaluation_once(run_dir, 4)
    assert [r["reason"] for r in rows if r["status"] != "ok"] == []


class ListenSpy:
    """Observer: the TCP addresses this (driver) process listens on while evaluations return."""

    def __init__(self) -> None:
        self.seen: set[tuple[str, int]] = set()

    @hookimpl
    def dnnp_hpo_evaluation_finished(self, run, evaluation) -> None:
        import psutil

        self.seen.update((c.laddr.ip, c.laddr.port) for c in psutil.Process().net_connections("tcp")
                         if c.status == psutil.CONN_LISTEN)


def test_local_mode_listens_on_loopback_only(tmp_path: Path) -> None:
    spy = ListenSpy()
    spec = write_spec(tmp_path / "local.yaml", pop_size=4, generations=1, launcher={"plugin": "dask", "workers": 2})
    run_dir = run_in_process(spec, extra_plugins=(spy,))
    assert_every_evaluation_once(run_dir, 8)
    assert (run_dir / "dask-scratch").is_dir()
    assert read_csv(run_dir / "pop.csv")
    assert spy.seen and all(ip == "127.0.0.1" for ip, _ in spy.seen), spy.seen
    assert 8787 not in {port for _, port in spy.seen}, "no dashboard on its default port"


@pytest.mark.slow
def test_nsga2_async_uses_a_worker_that_joins_while_every_slot_trains(tmp_path: Path, dask_processes,
                                                                       monkeypatch, wait_until) -> None:
    """A node that joins a scheduler-file cluster mid-run (a late block, a worker started
    by hand) gets an evaluation while the first training still runs: the steady-state
    loop looks at the capacity again as it waits, not only when a training returns.
    The first training is held until then (a minute at most), however slow the machine."""
    from dnnp_hpo.journal import Journal

    markers, hold = tmp_path / "running", tmp_path / "hold"
    markers.mkdir()
    hold.touch()
    monkeypatch.setenv(helpers.MARKER_VARIABLE, str(markers))  # the workers inherit these
    monkeypatch.setenv(helpers.HOLD_VARIABLE, str(hold))
    cluster = dask_processes(1)
    cluster.wait_ready(1)
    spec = write_spec(tmp_path / "late.yaml",
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:held_zdt1"},
                      # two births: the second is the late worker's, sent while the first trains
                      optimizer={"plugin": "nsga2-async", "pop_size": 2, "max_births": 2},
                      launcher={"plugin": "dask", "scheduler_file": str(cluster.scheduler_file),
                                "min_workers": 1, "wait_timeout": 60})

    def training_on(pid: int) -> bool:
        return any(m.name.startswith(f"{pid}.") for m in markers.iterdir())

    done: list[Path] = []
    runner = threading.Thread(target=lambda: done.append(run_in_process(spec)))
    runner.start()
    try:
        assert wait_until(lambda: training_on(cluster.workers[0].pid), 60), "the first training never started"
        late = cluster.add_worker()
        late_trains = wait_until(lambda: training_on(late.pid), 60)
    finally:
        hold.unlink()  # the first training ends only now
        runner.join(timeout=180)
    assert late_trains, "the late worker got nothing while the first training ran"
    assert done, "the run did not finish"
    with Journal.of(done[0], readonly=True) as journal:
        evaluations = journal.evaluations()
    assert len(evaluations) == 2 and all(e.ok for e in evaluations)
    assert [e.pid for e in evaluations if e.pid == late.pid], "the late worker's evaluation is not recorded as its"


@pytest.mark.slow
@pytest.mark.parametrize("optimizer", [{"plugin": "nsga2", "pop_size": 4, "generations": 4},
                                       {"plugin": "nsga2-async", "pop_size": 4, "max_births": 20}],
                         ids=["nsga2", "nsga2-async"])
def test_a_lost_scheduler_stops_the_run_and_a_new_cluster_resumes_it(tmp_path: Path, dask_processes,
                                                                     monkeypatch, optimizer) -> None:
    """The scheduler of a joined cluster SIGKILLed mid-run (its node gone): the real hpo-run
    stops, exit 3, one line and no traceback, with the evaluations the client had in
    flight pending, none recorded lost.  Before, the cancelled futures were recorded lost
    and the driver then waited forever.  The same command on a new cluster finishes the
    run with each birth recorded once, all trained."""
    import subprocess

    from dnnp_hpo.journal import Journal

    monkeypatch.setenv(helpers.SLEEP_VARIABLE, "0.3")
    cluster = dask_processes(1)
    cluster.wait_ready(1)
    spec = write_spec(tmp_path / "lost.yaml", optimizer=optimizer,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:slow_zdt1"},
                      launcher={"plugin": "dask", "scheduler_file": str(cluster.scheduler_file), "min_workers": 1})
    run_dir = tmp_path / "run-lost"
    driver = subprocess.Popen([str(VENV_BIN / "hpo-run"), str(spec)], stdout=subprocess.DEVNULL,
                              stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while len(read_csv(run_dir / "individuals.csv") if (run_dir / "individuals.csv").exists() else []) < 6:
            assert driver.poll() is None and time.monotonic() < deadline, "the run did not get going"
            time.sleep(0.1)
        cluster.scheduler.kill()
        _, stderr = driver.communicate(timeout=60)
    finally:
        driver.kill()
    assert driver.returncode == 3, stderr
    assert "Traceback" not in stderr, stderr
    assert stderr.strip().splitlines()[-1].startswith(
        "hpo-run: the engine was lost: launcher: lost the Dask scheduler at tcp://127.0.0.1:")
    # and beside the run's records, for whoever looks after the batch job's output is gone
    assert "the engine was lost: launcher: lost the Dask scheduler" in (run_dir / "launcher.log").read_text()
    with Journal.of(run_dir, readonly=True) as journal:
        assert journal.evaluations("lost") == []
        assert journal.running(), "what was in flight is pending"
    cluster.stop()
    cluster.scheduler_file.unlink()  # else the next run could read the dead scheduler's address
    monkeypatch.setenv(helpers.SLEEP_VARIABLE, "0")  # the new worker's: the resume only has to finish
    dask_processes(1).wait_ready(1)
    again = hpo_run(str(spec), timeout=120)
    assert again.returncode == 0, again.stderr
    rows = assert_every_evaluation_once(run_dir, 20)  # the scheduler was killed at 6 of them
    assert {r["status"] for r in rows} == {"ok"}


class KillOnce:
    """Observer that SIGKILLs ``pid`` when the first evaluation of the run is recorded."""

    def __init__(self, pid: int) -> None:
        self.pid: int | None = pid

    @hookimpl
    def dnnp_hpo_evaluation_finished(self, run, evaluation) -> None:
        if self.pid is not None:
            os.kill(self.pid, signal.SIGKILL)
            self.pid = None


@pytest.mark.slow
def test_a_scheduler_left_without_workers_is_given_up_after_wait_timeout(
        tmp_path: Path, dask_processes, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every worker gone (their nodes lost) while the scheduler lives: the evaluations
    would wait for a worker for ever, the batch job until its walltime.  The run says so
    at once in launcher.log, and stops after launcher.wait_timeout with EngineLost (exit 3
    in hpo-run), its evaluations in flight kept for the resume."""
    monkeypatch.setenv(helpers.SLEEP_VARIABLE, "0.5")
    cluster = dask_processes(1)
    cluster.wait_ready(1)
    spec = write_spec(tmp_path / "orphaned.yaml", pop_size=4, generations=3,
                      trainer={"plugin": "function", "callable": "hpo_launcher_helpers:slow_zdt1"},
                      launcher={"plugin": "dask", "scheduler_file": str(cluster.scheduler_file),
                                "min_workers": 1, "wait_timeout": 4})
    started = time.monotonic()
    with pytest.raises(EngineLost, match=r"no Dask worker has been connected to the scheduler at tcp://\S+ for 4 s"):
        # Once an evaluation is done, the run is past min_workers: the worker is lost
        # mid-run (a timer from here killed it before the run had joined, when start-up was slow).
        run_in_process(spec, extra_plugins=(KillOnce(cluster.workers[0].pid),))
    assert time.monotonic() - started < 60
    log = (tmp_path / "run-orphaned" / "launcher.log").read_text()
    assert "no worker is connected to the scheduler" in log


def test_the_capacity_is_read_without_asking_a_hung_scheduler(tmp_path: Path, dask_processes) -> None:
    """nsga2-async reads the pool's size after every result: on a scheduler that hangs
    without closing its connection (here: stopped with SIGSTOP) the read must not wait
    for it, or the driver would hang with it instead of noticing in _check_workers."""
    from dnnp_hpo.driver import prepare_run
    from dnnp_hpo.registry import load_registry

    cluster = dask_processes(2)
    spec = write_spec(tmp_path / "hung.yaml", launcher={"plugin": "dask", "scheduler_file": str(cluster.scheduler_file),
                                                        "min_workers": 2, "wait_timeout": 60})
    run, _ = prepare_run(spec, load_registry())
    with run.experiment.launcher.connect(run) as pool:
        assert pool.size == 2
        os.kill(cluster.scheduler.pid, signal.SIGSTOP)
        try:
            sizes: list[int] = []
            reader = threading.Thread(target=lambda: sizes.append(pool.size), daemon=True)
            reader.start()
            reader.join(timeout=10)
            assert sizes == [2], "pool.size waited for the stopped scheduler"
        finally:
            os.kill(cluster.scheduler.pid, signal.SIGCONT)


QUIET_PROBE = """
import logging, sys
from dnnp_hpo.driver import prepare_run
from dnnp_hpo.registry import load_registry

run, _ = prepare_run(sys.argv[1], load_registry())
with run.experiment.launcher.connect(run):
    logging.getLogger("distributed.batched").info("Batched Comm Closed", exc_info=ValueError("closed"))
    logging.getLogger("distributed.client").warning("a warning the user should see")
logging.getLogger("distributed.batched").info("after the run: distributed's own level again")
"""


def test_distributed_info_lines_are_kept_off_the_terminal_of_a_joined_run(tmp_path: Path, dask_processes) -> None:
    """A killed scheduler made the client log "Batched Comm Closed" at INFO with a
    traceback, between hpo-run's own lines (seen in CI, a race with the driver's exit).
    While hpo-run holds a joined pool, distributed's stderr handler shows warnings, not
    INFO. A process of its own: under pytest distributed leaves its handler out."""
    import subprocess

    cluster = dask_processes(1)
    spec = write_spec(tmp_path / "quiet.yaml", launcher={"plugin": "dask", "scheduler_file": str(cluster.scheduler_file),
                                                         "min_workers": 1, "wait_timeout": 60})
    probe = subprocess.run([str(VENV_BIN / "python"), "-c", QUIET_PROBE, str(spec)], check=False, capture_output=True,
                           text=True, timeout=120, cwd=tmp_path)
    assert probe.returncode == 0, probe.stderr
    assert "Batched Comm Closed" not in probe.stderr and "Traceback" not in probe.stderr, probe.stderr
    assert "a warning the user should see" in probe.stderr
    assert "after the run" in probe.stderr, "the handler's level is given back"
