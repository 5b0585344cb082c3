"""Running a training command: argument list, own process group, hard timeout."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import attrs


@attrs.frozen
class Completed:
    returncode: int | None  #: None when killed at the timeout
    elapsed: float  #: wall seconds
    timed_out: bool


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


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

    The command gets a process group of its own.  At the timeout, on any exception here
    (a cancelled task, say), and after it exits, the whole group is killed, so nothing a
    training started outlives its evaluation.  Raises OSError if it cannot start.
    """
    full_env = {**os.environ, **(env or {})}
    start = time.monotonic()
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        proc = subprocess.Popen(
            list(argv), cwd=cwd, env=full_env, stdin=subprocess.DEVNULL,
            stdout=out, stderr=err, start_new_session=True,
        )
        try:
            returncode: int | None = proc.wait(timeout=timeout)
            timed_out = False
        except subprocess.TimeoutExpired:
            returncode, timed_out = None, True
        finally:
            _kill_group(proc.pid)  # the group id is the leader's pid (start_new_session)
            proc.wait()
    return Completed(returncode, time.monotonic() - start, timed_out)
