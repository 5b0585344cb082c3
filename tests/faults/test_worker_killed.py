"""Promise 3: a Dask worker process killed mid-run; the run completes, every evaluation
is recorded exactly once, and the training the worker was running does not live on.

Real local Dask cluster (the ``dask`` launcher's default mode, with nannies), real
``deepmd`` trainer.  The training program is the stand-in ``faults_dp.py``: the first
training it runs hangs (so it is surely running when its worker is killed), the others
succeed.  tests/launchers/test_cluster_dask.py kills a ``dask worker --no-nanny`` of a
scheduler-file cluster the same way.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest
from faults_testutil import (
    assert_recorded_once,
    deepmd_spec,
    run_in_process,
    write_plan,
    write_spec,
)
from proc_testutil import processes_with

pytestmark = pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc")


def _parent(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[1])


def _watchdogs() -> list[str]:
    """pid, parent and state of each training watchdog (dnnp_hpo/process.py run as a script)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
            if entry.name.isdigit() and any(part.endswith(b"process.py") for part in cmdline):
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
                found.append(f"{entry.name} (parent {fields[1]}, state {fields[0]})")
        except OSError:
            continue
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_worker_killed_mid_training_loses_nothing_and_leaves_no_training(tmp_path: Path) -> None:
    marker = f"worker-{os.getpid()}-{time.monotonic_ns()}"
    plan = write_plan(tmp_path / "plan.json", ["hang"])
    pop_size, generations = 6, 1
    spec = write_spec(tmp_path / "spec.yaml", deepmd_spec(
        tmp_path / "run", pop_size=pop_size, generations=generations, timeout_minutes=2,
        env={"FAULTS_PLAN": str(plan), "FAULTS_MARK": marker}))
    seen: dict[str, float] = {}

    def kill_the_worker_of_the_hung_training() -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for pid, cmdline in processes_with("FAULTS_MARK", marker):
                if "faults_dp.py" not in cmdline:
                    continue
                try:
                    hung = (Path(os.readlink(f"/proc/{pid}/cwd")) / "fault.txt").read_text() == "hang"
                except OSError:
                    continue
                if hung:
                    worker = _parent(pid)  # the Dask worker that runs the training
                    os.kill(worker, signal.SIGKILL)
                    seen.update(worker=worker, training=pid, killed_at=time.monotonic())
                    while _alive(pid) and time.monotonic() - seen["killed_at"] < 30:
                        time.sleep(0.05)
                    seen["training_gone_after"] = time.monotonic() - seen["killed_at"]
                    if _alive(pid):  # for the failure's message: what became of the watchdogs
                        seen["watchdogs"] = _watchdogs()
                    return
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_worker_of_the_hung_training, daemon=True)
    killer.start()
    try:
        run_dir = run_in_process(spec)
    finally:
        killer.join(40)
        for pid, _ in processes_with("FAULTS_MARK", marker):  # only ours: the marker is unique
            os.kill(pid, signal.SIGKILL)
    assert "worker" in seen, "the hung training was never seen running"
    # The training of the dead worker was killed with it, not left to its 2 min limit.
    assert not _alive(seen["training"]) and seen["training_gone_after"] < 10, seen
    evaluations = assert_recorded_once(run_dir, pop_size * (generations + 1))
    # Dask ran the lost task again on a live worker (or, had it given up, recorded it lost).
    assert all(e.status in ("ok", "lost") for e in evaluations), [e.reason for e in evaluations]
    dead_attempts = list((run_dir / "evals").glob("*.attempt-1"))
    assert [(p / "fault.txt").read_text() for p in dead_attempts] == ["hang"]
    print(f"worker {seen['worker']} SIGKILLed; its training was gone after {seen['training_gone_after']:.2f} s; "
          f"statuses {sorted({e.status for e in evaluations})}")
