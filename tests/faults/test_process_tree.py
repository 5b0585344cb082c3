"""Promise 2: a hung training is killed with its whole process tree at the time limit;
after the run no process started by an evaluation is alive.

Real ``deepmd`` trainer, real local Dask.  The training program is the stand-in
``faults_dp.py`` in its ``hang_tree`` fault: it never returns, and starts a child that
starts a grandchild, plus a process that leaves the process group with setsid (as a
daemonising helper does).  Every one of them inherits the trainer's ``env``, so a unique
value there finds them all in /proc, wherever they moved.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from faults_testutil import assert_recorded_once, deepmd_spec, run_in_process, write_spec
from proc_testutil import processes_with

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_hung_trainings_leave_no_process_behind(tmp_path: Path) -> None:
    marker = f"tree-{os.getpid()}-{time.monotonic_ns()}"
    spec = write_spec(tmp_path / "spec.yaml", deepmd_spec(
        # one round: they hang; 6 s is ample for the tree to start (it writes tree.pids in
        # well under a second idle; 12 interpreters on 2 loaded cores take longer), and the
        # detached process then holds on for the 10 s grace
        tmp_path / "run", pop_size=3, generations=0, workers=3, timeout_minutes=0.1,
        env={"FAULTS_FAULT": "hang_tree", "FAULTS_MARK": marker}))
    try:
        run_dir = run_in_process(spec)
        evaluations = assert_recorded_once(run_dir, 3)
        assert [e.status for e in evaluations] == ["timeout"] * 3, [e.reason for e in evaluations]
        trees = [[int(p) for p in (e.trial.workdir / "tree.pids").read_text().split()] for e in evaluations]
        # the program, its child and grandchild, and the one in a session of its own
        assert [len(tree) for tree in trees] == [4, 4, 4], trees
        deadline = time.monotonic() + 5  # SIGKILL is asynchronous: give the kernel a moment
        while processes_with("FAULTS_MARK", marker) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_with("FAULTS_MARK", marker) == []
        assert [pid for tree in trees for pid in tree if _alive(pid)] == []
    finally:
        for pid, _ in processes_with("FAULTS_MARK", marker):  # only ours: the marker is unique
            os.kill(pid, signal.SIGKILL)
