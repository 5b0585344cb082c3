"""core/process.py's watchdog: one per process that runs trainings, and it kills what a
dead process left running.

Real processes throughout: a Python process runs trainings through ``run_command`` and
is SIGKILLed as a Dask worker would be (tests/faults/test_worker_killed.py does the same
inside a real Dask cluster).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from dnnp_hpo import process
from dnnp_hpo.process import run_command

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")

WATCHDOG_SCRIPT = str(Path(sys.modules[run_command.__module__].__file__).resolve())


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None


def _alive(pid: int) -> bool:
    stat = _stat(pid)
    return stat is not None and stat[0] != "Z"


def watchdogs_of(parent: int) -> list[int]:
    """Live watchdog processes started by ``parent``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        stat = _stat(int(entry))
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if stat and stat[0] != "Z" and int(stat[1]) == parent and WATCHDOG_SCRIPT.encode() in cmdline:
            found.append(int(entry))
    return found




def test_one_watchdog_serves_every_training_of_a_process(tmp_path: Path) -> None:
    for i in range(3):
        done = run_command([sys.executable, "-c", "pass"], tmp_path, stdout=tmp_path / f"o{i}", stderr=tmp_path / f"e{i}")
        assert done.returncode == 0
    assert len(watchdogs_of(os.getpid())) == 1


# A "worker": one training that ends, then one that hangs (it writes its pid first).
WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from dnnp_hpo.process import run_command
    here = Path(sys.argv[1])
    run_command([sys.executable, "-c", "pass"], here, stdout=here / "o1", stderr=here / "e1")
    hang = "import os, time; open('training.pid', 'w').write(str(os.getpid())); time.sleep(600)"
    run_command([sys.executable, "-c", hang], here, stdout=here / "o2", stderr=here / "e2")
""")


def test_trainings_of_a_killed_process_are_killed_and_its_watchdog_exits(tmp_path: Path, wait_until) -> None:
    worker = subprocess.Popen([sys.executable, "-c", WORKER, str(tmp_path)])
    training = None
    try:
        pid_file = tmp_path / "training.pid"
        assert wait_until(lambda: pid_file.exists() and pid_file.read_text().strip()), "the training never started"
        training = int(pid_file.read_text())
        dogs = watchdogs_of(worker.pid)
        assert len(dogs) == 1, dogs  # one for both trainings
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        assert wait_until(lambda: not _alive(training)), "the training outlived its process"
        assert wait_until(lambda: not _alive(dogs[0])), "the watchdog outlived its process"
    finally:
        if worker.poll() is None:
            worker.kill()
        if training is not None and _alive(training):
            os.kill(training, signal.SIGKILL)


# A "worker" whose one training writes its pid, then either stops cleanly at SIGTERM or
# ignores it; its grace is argv[3] seconds.
GRACEFUL_WORKER = textwrap.dedent("""
    import sys
    from pathlib import Path
    from dnnp_hpo.process import run_command
    here, deaf, grace = Path(sys.argv[1]), sys.argv[2] == "deaf", float(sys.argv[3])
    training = (
        "import os, signal, sys, time\\n"
        "from pathlib import Path\\n"
        "def stop(*_):\\n"
        "    Path('stopped-by-sigterm').touch()\\n"
        "    sys.exit(143)\\n"
        + ("signal.signal(signal.SIGTERM, signal.SIG_IGN)\\n" if deaf else "signal.signal(signal.SIGTERM, stop)\\n")
        + "open('training.pid', 'w').write(str(os.getpid()))\\n"
        "time.sleep(600)\\n"
    )
    run_command([sys.executable, "-c", training], here, stdout=here / "o", stderr=here / "e", term_grace=grace)
""")


@pytest.mark.parametrize("deaf", [False, True], ids=["stops-at-sigterm", "ignores-sigterm"])
def test_a_killed_process_trainings_get_sigterm_and_the_grace(tmp_path: Path, wait_until, deaf: bool) -> None:
    """A Dask worker SIGKILLed mid-training: its watchdog stops the training as the time
    limit does, SIGTERM first (a jsrun or srun stops its remote ranks then), SIGKILL
    after the training's grace if it is still there."""
    grace = 2.0 if deaf else 30.0
    worker = subprocess.Popen([sys.executable, "-c", GRACEFUL_WORKER, str(tmp_path), "deaf" if deaf else "polite",
                               str(grace)])
    training = None
    try:
        pid_file = tmp_path / "training.pid"
        assert wait_until(lambda: pid_file.exists() and pid_file.read_text().strip()), (tmp_path / "e").read_text()
        training = int(pid_file.read_text())
        worker.send_signal(signal.SIGKILL)
        worker.wait()
        killed_at = time.monotonic()
        assert wait_until(lambda: not _alive(training), seconds=grace + 20), "the training outlived its process"
        took = time.monotonic() - killed_at
        if deaf:
            assert took >= grace - 0.5, f"killed after {took:.1f} s, before its {grace} s grace ran out"
            assert not (tmp_path / "stopped-by-sigterm").exists()
        else:
            assert (tmp_path / "stopped-by-sigterm").exists(), "the training was not sent SIGTERM"
            assert took < grace / 2, f"it stopped at SIGTERM, yet took {took:.1f} s"
    finally:
        if worker.poll() is None:
            worker.kill()
        if training is not None and _alive(training):
            os.kill(training, signal.SIGKILL)


# A "worker" SIGKILLed as its training starts: after Popen returned and before anything
# more reached its watchdog (the training's process group, say).  Its watchdog is
# already running (a first training), as in a worker that has trained before.
KILLED_AS_IT_STARTS = textwrap.dedent("""
    import os, signal, subprocess, sys, time
    from pathlib import Path
    from dnnp_hpo import process
    here = Path(sys.argv[1])
    process.run_command([sys.executable, "-c", "pass"], here, stdout=here / "o1", stderr=here / "e1")
    started, popen, tell = [], subprocess.Popen, process._WATCHDOG.tell
    def popen_noted(*args, **kwargs):
        proc = popen(*args, **kwargs)
        started.append(proc.pid)
        return proc
    def tell_or_die(line):
        if started:
            while not (here / "training.pid").exists():
                time.sleep(0.01)
            os.kill(os.getpid(), signal.SIGKILL)
        tell(line)
    subprocess.Popen, process._WATCHDOG.tell = popen_noted, tell_or_die
    hang = "import os, time; open('training.pid', 'w').write(str(os.getpid())); time.sleep(600)"
    process.run_command([sys.executable, "-c", hang], here, stdout=here / "o2", stderr=here / "e2")
""")


def test_a_process_killed_as_its_training_starts_leaves_no_training(tmp_path: Path, wait_until) -> None:
    """The watchdog hears of a training (its token) before it is started: a worker killed
    right after starting it, before it could tell the watchdog more, leaves nothing."""
    worker = subprocess.Popen([sys.executable, "-c", KILLED_AS_IT_STARTS, str(tmp_path)])
    training = None
    try:
        assert worker.wait(timeout=60) == -signal.SIGKILL, (tmp_path / "e2").read_text()
        training = int((tmp_path / "training.pid").read_text())
        assert wait_until(lambda: not _alive(training)), "the training outlived its process"
    finally:
        if worker.poll() is None:
            worker.kill()
        if training is not None and _alive(training):
            os.kill(training, signal.SIGKILL)


def test_a_process_that_ends_normally_leaves_no_watchdog(tmp_path: Path, wait_until) -> None:
    # runs one training, then waits for a line on stdin before it exits
    code = ("import sys; from pathlib import Path; from dnnp_hpo.process import run_command; "
            "h = Path(sys.argv[1]); run_command([sys.executable, '-c', 'pass'], h, stdout=h / 'o', stderr=h / 'e'); "
            "print('ran', flush=True); sys.stdin.readline()")
    worker = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert worker.stdout.readline().strip() == "ran"
        dogs = watchdogs_of(worker.pid)
        assert len(dogs) == 1, dogs
        worker.communicate("\n", timeout=30)
        assert worker.returncode == 0
        assert wait_until(lambda: not _alive(dogs[0])), "the watchdog outlived its process"
    finally:
        if worker.poll() is None:
            worker.kill()


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "no-pidfd"])
def test_the_group_is_killed_before_its_leader_is_reaped(tmp_path: Path, monkeypatch, pidfd: bool) -> None:
    """While the leader is an unreaped zombie its pid cannot be reused, so the group kill
    cannot reach a stranger's group; the exit status is still the command's own.  Also
    where there is no pidfd (kernels before 5.3): waitid(WNOWAIT) polling then."""
    if not pidfd:
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    states: list[str | None] = []
    real_kill = process.kill_training

    def spying_kill(pgid, token):
        stat = _stat(pgid)
        states.append(stat[0] if stat else None)
        real_kill(pgid, token)

    monkeypatch.setattr(process, "kill_training", spying_kill)
    done = run_command([sys.executable, "-c", "import sys; sys.exit(3)"], tmp_path,
                       stdout=tmp_path / "out", stderr=tmp_path / "err", timeout=30)
    assert states == ["Z"]
    assert done.returncode == 3 and not done.timed_out
    deaf = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(30)"
    timed = run_command([sys.executable, "-c", deaf], tmp_path,
                        stdout=tmp_path / "out", stderr=tmp_path / "err", timeout=0.5, term_grace=0.5)
    assert states[1] in {"S", "R"}  # still running past SIGTERM's grace: killed, then reaped
    assert timed.returncode is None and timed.timed_out


def test_at_the_time_limit_sigterm_comes_first(tmp_path: Path, wait_until) -> None:
    """A launcher (jsrun, srun) stops its ranks on other nodes when it gets SIGTERM: the
    command is given that chance before SIGKILL; one that ignores it is killed after the
    grace period, with the child it started."""
    polite = textwrap.dedent("""
        import signal, sys, time
        from pathlib import Path
        def stop(*_):
            Path("stopped-by-sigterm").write_text("ranks told to stop")
            sys.exit(143)
        signal.signal(signal.SIGTERM, stop)
        Path("started").touch()
        time.sleep(60)
    """)
    done = run_command([sys.executable, "-c", polite], tmp_path, stdout=tmp_path / "o", stderr=tmp_path / "e",
                       timeout=3.0, term_grace=20.0)  # 3 s: the handler is set on a loaded machine too
    assert (tmp_path / "started").exists(), (tmp_path / "e").read_text()
    assert done.timed_out and done.returncode is None
    assert (tmp_path / "stopped-by-sigterm").read_text() == "ranks told to stop"
    assert done.elapsed < 15.0, "it stopped at SIGTERM, long before the grace ran out"

    deaf = textwrap.dedent("""
        import signal, subprocess, sys, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)  # inherited by the child
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        print(child.pid, flush=True)
        time.sleep(60)
    """)
    done = run_command([sys.executable, "-c", deaf], tmp_path, stdout=tmp_path / "o2", stderr=tmp_path / "e2",
                       timeout=3.0, term_grace=1.0)
    assert done.timed_out and done.elapsed >= 4.0, done
    child = int((tmp_path / "o2").read_text().split()[0])
    assert wait_until(lambda: not _alive(child)), "the child that ignored SIGTERM was killed too"

    # A leader that stops at once (a shell) leaves the rest of the grace to what it started.
    slow_child = textwrap.dedent("""
        import signal, subprocess, sys, time
        code = ("import signal, sys, time\\nfrom pathlib import Path\\n"
                "def stop(*_):\\n    time.sleep(1.5)\\n    Path('child-cleaned').touch()\\n    sys.exit(0)\\n"
                "signal.signal(signal.SIGTERM, stop)\\nPath('child-ready').touch()\\ntime.sleep(60)\\n")
        subprocess.Popen([sys.executable, "-c", code])
        time.sleep(60)
    """)
    done = run_command([sys.executable, "-c", slow_child], tmp_path, stdout=tmp_path / "o3", stderr=tmp_path / "e3",
                       timeout=4.0, term_grace=10.0)  # two interpreters to start before it
    assert (tmp_path / "child-ready").exists(), (tmp_path / "e3").read_text()
    assert done.timed_out and (tmp_path / "child-cleaned").exists(), "the child finished its clean-up"


@pytest.mark.parametrize("deaf", [False, True], ids=["stops-on-sigterm", "ignores-sigterm"])
def test_stop_trainings_stops_those_of_one_run_only(tmp_path: Path, wait_until, deaf: bool) -> None:
    """What a worker of a cluster that outlives hpo-run is told when the run stops in order:
    its trainings under the run's evaluations stop (SIGTERM, SIGKILL after the grace for
    one deaf to it) and raise TrainingStopped; another run's training goes on."""
    import threading

    ignore = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN); " if deaf else ""
    argv = [sys.executable, "-c", f"{ignore}import time; time.sleep(60)"]
    ours, other = tmp_path / "run" / "evals" / "u1", tmp_path / "other" / "evals" / "u2"
    outcomes: dict[str, object] = {}

    def train(name: str, cwd: Path) -> None:
        cwd.mkdir(parents=True)
        try:
            outcomes[name] = run_command(argv, cwd, stdout=cwd / "out", stderr=cwd / "err", term_grace=1.0)
        except process.TrainingStopped as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=train, args=args) for args in (("ours", ours), ("other", other))]
    for thread in threads:
        thread.start()
    assert wait_until(lambda: len(process._RUNNING) == 2, 10)
    start = time.monotonic()
    assert process.stop_trainings(str(tmp_path / "run" / "evals"), grace=1.0) == 1
    threads[0].join(10)
    assert isinstance(outcomes.get("ours"), process.TrainingStopped), outcomes
    assert time.monotonic() - start < 5
    assert "other" not in outcomes and threads[1].is_alive()
    assert process.stop_trainings(str(tmp_path / "other"), grace=1.0) == 1
    threads[1].join(10)
    assert isinstance(outcomes.get("other"), process.TrainingStopped) and not process._RUNNING
