"""Running a training command: argument list, own process group, hard timeout.

Nothing a training starts may outlive its evaluation, whatever happens to it or to the
worker running it.  Three things see to that:

* the command gets a process group of its own, killed whole when it ends, at the time
  limit, or on any exception here (a cancelled task, say).  At the time limit the group
  is first sent SIGTERM and given :data:`TERM_GRACE_S` to stop: a ``jsrun`` or ``srun``
  in front of the training passes it on to the ranks on other nodes, which SIGKILL
  would leave holding that node's GPUs;
* its environment carries ``DNNP_HPO_TRAINING=<token unique to this command>``, which every
  process it starts inherits, also one that left the group with setsid; on Linux those
  are found in /proc and killed too;
* a small watchdog process (this file run as a script), one per process that runs
  trainings, reads a pipe whose other end only that process holds and is told of each
  training that starts and ends: if the process dies (a Dask worker SIGKILLed
  mid-training), the pipe closes and the watchdog stops the trainings that had not
  ended, SIGTERM first and SIGKILL after the grace, as at the time limit.  A training
  has its own session, so nothing else would stop it.  The watchdog hears of a training
  by its token before it is started, so a process killed between starting it and
  learning its pid leaves nothing behind either.

The module imports the standard library only, so the watchdog starts in a few
milliseconds (``python -I -S``: no site-packages needed), once per worker.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import NamedTuple

TRAINING_VARIABLE = "DNNP_HPO_TRAINING"
#: what the watchdog is told: a training is about to start (its token and grace), its
#: process group, and that it ended
_START, _GROUP, _END = "start", "group", "end"
#: seconds between SIGTERM at the time limit and SIGKILL (LSF's JOB_TERMINATE_INTERVAL
#: is 10 s too)
TERM_GRACE_S = 10.0
#: Signals that stop hpo-run in order (core/cli.py: the engine shut down, a Parsl job's
#: blocks cancelled, the journal closed): Ctrl-C, and what a batch system, a reaper or a
#: dropped ssh session sends; held while a local Dask cluster starts (dask_launcher).
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class TrainingStopped(Exception):
    """The training was stopped by :func:`stop_trainings` (its run stopped while the
    worker lives on): no outcome of it is to be recorded or left for a resume."""


class _Running(NamedTuple):
    pgid: int
    cwd: str
    stopped: threading.Event  #: set by stop_trainings


#: token -> the trainings this process runs now (several threads of one worker may)
_RUNNING: dict[str, _Running] = {}
_RUNNING_LOCK = threading.Lock()


def stop_trainings(under: str, grace: float = TERM_GRACE_S) -> int:
    """Stop the trainings this process runs in a directory under ``under`` (a run's
    evaluations): SIGTERM each group now, and SIGKILL what is left after ``grace`` from a
    thread, so the caller (a Dask worker's event loop) is not held.  Their
    :func:`run_command` raises :class:`TrainingStopped`.  Returns how many were stopped.

    A driver stopped in order (Ctrl-C) by a cluster that outlives it calls this on every
    worker: a cancelled Dask task does not stop the thread that runs it, so each training
    held its worker to its end, and a resume meanwhile trained it again behind it."""
    root = os.path.join(os.path.abspath(under), "")
    with _RUNNING_LOCK:
        chosen = {token: r for token, r in _RUNNING.items() if os.path.join(r.cwd, "").startswith(root)}
    for running in chosen.values():
        running.stopped.set()
        _terminate(running.pgid)

    def finish() -> None:
        _wait_unmarked(list(chosen), time.monotonic() + grace)
        for token, running in chosen.items():
            kill_training(running.pgid, token)

    if chosen:
        threading.Thread(target=finish, name="dnnp-hpo-stop-trainings", daemon=True).start()
    return len(chosen)


class Completed(NamedTuple):
    returncode: int | None  #: None when killed at the timeout
    elapsed: float  #: wall seconds
    timed_out: bool


def _marked(token: str) -> list[int]:
    """Live processes whose environment carries ``token`` (empty where there is no /proc)."""
    needle = f"{TRAINING_VARIABLE}={token}".encode()
    found = []
    try:
        entries = os.scandir("/proc")
    except OSError:
        return found
    with entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            try:
                with open(f"/proc/{entry.name}/environ", "rb") as handle:
                    if needle in handle.read().split(b"\0"):
                        found.append(int(entry.name))
            except OSError:
                continue  # gone meanwhile, or another user's
    return found


def _terminate(pgid: int) -> None:
    """SIGTERM the training's process group: a launcher's cue to stop its ranks."""
    try:
        os.killpg(pgid, signal.SIGTERM)
    except (ProcessLookupError, PermissionError):
        pass


def _wait_unmarked(tokens: Sequence[str], deadline: float) -> None:
    """Until ``deadline`` (monotonic), wait for every process carrying one of ``tokens`` to exit."""
    while any(_marked(token) for token in tokens) and time.monotonic() < deadline:
        time.sleep(0.05)


def kill_training(pgid: int | None, token: str) -> None:
    """SIGKILL the training's process group and every process carrying its token."""
    if pgid is not None:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    for _ in range(3):  # again, for what was being forked during the previous round
        pids = _marked(token)
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


class _Watchdog:
    """The process's watchdog: one per process that runs trainings (a Dask worker, say).

    Started at the first training and kept: a Python start per training would cost every
    evaluation ~10 ms of CPU, which on a small machine competes with the trainings.  It
    reads ``start <token> <grace>``, ``group <token> <pgid>`` and ``end <token>`` lines;
    at the end of its stdin (this process is gone) it stops every training that did not
    end: SIGTERM, then SIGKILL after the grace.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid: int | None = None  # the process that started the watchdog (a fork needs its own)
        self._dog: subprocess.Popen[str] | None = None

    def _running(self) -> subprocess.Popen[str] | None:
        """The watchdog of this process, started if need be (None if it cannot start)."""
        if self._dog is not None and self._pid == os.getpid() and self._dog.poll() is None:
            return self._dog
        env = {k: v for k, v in os.environ.items() if k != TRAINING_VARIABLE}
        try:
            self._dog = subprocess.Popen(
                [sys.executable, "-I", "-S", os.path.abspath(__file__)], stdin=subprocess.PIPE, text=True,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
            )
        except OSError:
            self._dog = None  # best effort: the group kill in run_command still applies
            return None
        self._pid = os.getpid()
        # Reaped in the background should it ever exit early; normally it outlives us.
        threading.Thread(target=self._dog.wait, name="dnnp-hpo-watchdog-reaper", daemon=True).start()
        return self._dog

    def tell(self, line: str) -> None:
        with self._lock:  # trainings may run in several threads of one worker
            dog = self._running()
            if dog is None or dog.stdin is None:
                return
            try:
                dog.stdin.write(line)
                dog.stdin.flush()
            except OSError:
                self._dog = None  # it died: the next training starts another


_WATCHDOG = _Watchdog()


def _exited(proc: subprocess.Popen[bytes], timeout: float | None) -> bool:
    """Wait for ``proc`` to exit, at most ``timeout`` seconds; True if it did.

    ``Popen.wait(timeout)`` polls with sleeps growing to 50 ms, so it notices an exit up
    to 50 ms late: a cost on every evaluation.  A pidfd (Linux 5.3+) wakes up at once,
    and leaves ``proc`` unreaped (its pid reserved) for the caller to kill its group first.
    """
    try:
        pidfd = os.pidfd_open(proc.pid)
    except (AttributeError, OSError):  # not Linux, or an old kernel (RHEL 7's 3.10)
        if hasattr(os, "waitid"):
            return _exited_unreaped(proc.pid, timeout)
        try:  # reaps: the group kill after it is then best effort
            proc.wait(timeout=timeout)
            return True
        except subprocess.TimeoutExpired:
            return False
    try:
        ready, _, _ = select.select([pidfd], [], [], timeout)
        return bool(ready)
    finally:
        os.close(pidfd)


def _exited_unreaped(pid: int, timeout: float | None) -> bool:
    """Poll ``waitid(WNOWAIT)`` until ``pid`` exits, leaving it unreaped as a pidfd does
    (sleeps growing to 50 ms, as ``Popen.wait`` polls); True if it exited in time."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.0005
    while True:
        if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False
        time.sleep(delay if deadline is None else max(0.0, min(delay, deadline - time.monotonic())))
        delay = min(delay * 2, 0.05)


def run_command(
    argv: Sequence[str],
    cwd: Path,
    *,
    stdout: Path,
    stderr: Path,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    term_grace: float = TERM_GRACE_S,
) -> Completed:
    """Run ``argv`` (never through a shell) in ``cwd`` with output to files.

    At the timeout the command's group gets SIGTERM and ``term_grace`` seconds to stop;
    then, as on any exception here and after it exits, everything the command started
    is killed (see the module docstring).  Raises OSError if it cannot start, and
    :class:`TrainingStopped` if :func:`stop_trainings` stopped it.
    """
    token = uuid.uuid4().hex
    full_env = {**os.environ, **(env or {}), TRAINING_VARIABLE: token}
    start = time.monotonic()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        # Told before the start: killed between Popen and the group line, this process
        # still leaves the watchdog the token to find the training by.
        _WATCHDOG.tell(f"{_START} {token} {term_grace}\n")
        try:
            proc = subprocess.Popen(
                list(argv), cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
                stdout=out, stderr=err, start_new_session=True,
            )
        except BaseException:
            _WATCHDOG.tell(f"{_END} {token}\n")
            raise
        stopped = threading.Event()
        with _RUNNING_LOCK:
            _RUNNING[token] = _Running(proc.pid, os.path.abspath(cwd), stopped)
        try:
            # the group id is the leader's pid (start_new_session)
            _WATCHDOG.tell(f"{_GROUP} {token} {proc.pid}\n")
            timed_out = not _exited(proc, timeout)
            if timed_out:
                _terminate(proc.pid)  # the leader is unreaped: its pid is still its group's
                deadline = time.monotonic() + term_grace
                if _exited(proc, term_grace):
                    # The leader stopped; what it started may still be stopping (a shell's
                    # child, ranks): they get the rest of the grace.
                    _wait_unmarked([token], deadline)
        finally:
            # The group is killed before the leader is reaped: until then its pid cannot be
            # given to a new process, so killpg cannot reach someone else's group.
            kill_training(proc.pid, token)
            status = proc.wait()
            _WATCHDOG.tell(f"{_END} {token}\n")
            with _RUNNING_LOCK:
                _RUNNING.pop(token, None)
    if stopped.is_set():
        raise TrainingStopped(f"stopped with its run (exit status {status})")
    return Completed(None if timed_out else status, time.monotonic() - start, timed_out)


def _watch() -> int:
    """The watchdog: keep the trainings that started and did not end; at the end of stdin
    (the process that runs them died) stop them: SIGTERM, then SIGKILL after the longest
    of their graces (a dead Dask worker's jsrun gets to stop its remote ranks too)."""
    graces: dict[str, float] = {}
    groups: dict[str, int] = {}  # not there for a training whose process died starting it
    for line in sys.stdin:
        word, token, *rest = line.split()
        if word == _START:
            graces[token] = float(rest[0])
        elif word == _GROUP:
            groups[token] = int(rest[0])
        else:
            graces.pop(token, None)
            groups.pop(token, None)
    for token in graces:
        if token in groups:
            _terminate(groups[token])
        else:
            for pid in _marked(token):
                try:
                    os.kill(pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    pass
    _wait_unmarked(list(graces), time.monotonic() + max(graces.values(), default=0.0))
    for token in graces:
        kill_training(groups.get(token), token)
    return 0


if __name__ == "__main__":
    sys.exit(_watch())
