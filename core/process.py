"""Running a training command: argument list, own process group, hard timeout.

Nothing a training starts may outlive its evaluation, whatever happens to it or to the
worker running it.  Three things see to that:

* the command gets a process group of its own, killed whole when it ends, at the time
  limit, or on any exception here (a cancelled task, say);
* its environment carries ``DNNP_HPO_TRAINING=<token unique to this command>``, which every
  process it starts inherits, also one that left the group with setsid; on Linux those
  are found in /proc and killed too;
* a small watchdog process (this file run as a script) holds one end of a pipe whose
  other end only this process holds: if this process dies (a Dask worker SIGKILLed
  mid-training), the pipe closes and the watchdog kills the training.  The training has
  its own session, so nothing else would stop it.

The module imports the standard library only, so the watchdog starts in a few
milliseconds (``python -I -S``: no site-packages needed).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, NamedTuple

TRAINING_VARIABLE = "DNNP_HPO_TRAINING"
_DONE = "done"  #: what the watched process tells its watchdog when it ends normally


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


@contextmanager
def _watchdog(token: str) -> Iterator[IO[str] | None]:
    """Start the watchdog; yield the pipe to tell it the group id (None if it did not start)."""
    env = {k: v for k, v in os.environ.items() if k != TRAINING_VARIABLE}
    try:
        dog = subprocess.Popen(
            [sys.executable, "-I", "-S", os.path.abspath(__file__), token], stdin=subprocess.PIPE, text=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env, start_new_session=True,
        )
    except OSError:
        yield None  # best effort: the group kill below still applies
        return
    assert dog.stdin is not None
    try:
        yield dog.stdin
        _tell(dog.stdin, f"{_DONE}\n")
    finally:
        try:
            dog.stdin.close()
        except OSError:
            pass
        # Reaped in the background: it exits on its own at once, and waiting here would add
        # its start-up time to every short command.
        threading.Thread(target=dog.wait, name="dnnp-hpo-watchdog-reaper", daemon=True).start()


def _tell(pipe: IO[str] | None, line: str) -> None:
    if pipe is None:
        return
    try:
        pipe.write(line)
        pipe.flush()
    except OSError:
        pass  # the watchdog is gone; the group kill still applies


def run_command(
    argv: Sequence[str],
    cwd: Path,
    *,
    stdout: Path,
    stderr: Path,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> Completed:
    """Run ``argv`` (never through a shell) in ``cwd`` with output to files.

    At the timeout, on any exception here, and after it exits, everything the command
    started is killed (see the module docstring).  Raises OSError if it cannot start.
    """
    token = uuid.uuid4().hex
    full_env = {**os.environ, **(env or {}), TRAINING_VARIABLE: token}
    start = time.monotonic()
    with _watchdog(token) as dog, open(stdout, "wb") as out, open(stderr, "wb") as err:
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
            stdout=out, stderr=err, start_new_session=True,
        )
        try:
            _tell(dog, f"{proc.pid}\n")  # the group id is the leader's pid (start_new_session)
            returncode: int | None = proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            returncode, timed_out = None, True
        finally:
            kill_training(proc.pid, token)
            proc.wait()
    return Completed(returncode, time.monotonic() - start, timed_out)


def _watch(token: str) -> int:
    """The watchdog: wait for the training's group id, then for the end of stdin.

    ``done`` before the end means the watched process finished the job itself; the end
    of stdin without it means that process died, and the training is killed here.
    """
    pgid = None
    for line in sys.stdin:
        if line.strip() == _DONE:
            return 0
        pgid = int(line)
    kill_training(pgid, token)
    return 0


if __name__ == "__main__":
    sys.exit(_watch(sys.argv[1]))
