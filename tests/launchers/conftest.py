"""Fixtures of the launcher tests: real Dask processes, Parsl through stand-in schedulers.

Every process a fixture starts is stopped at teardown, also when the test fails: the Dask
scheduler and workers by their Popen handles, the jobs of the stand-in ``bsub``/``sbatch``
by their process groups (Parsl's interchange is stopped by the launcher's own cleanup).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest
from dask_testutil import scheduler_argv, worker_argv
from launchers_testutil import HERE, REPO, STANDINS_BIN, VENV_BIN  # noqa: F401


@pytest.fixture
def worker_env(monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment in which workers (and jobs) can import tests/launchers/hpo_launcher_helpers."""
    path = os.pathsep.join(p for p in (str(HERE), os.environ.get("PYTHONPATH", "")) if p)
    monkeypatch.setenv("PYTHONPATH", path)
    monkeypatch.setenv("PATH", f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}")
    return dict(os.environ)


def stop(proc: subprocess.Popen, grace: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@attrs.define
class DaskProcesses:
    """A real ``dask scheduler`` and ``dask worker`` processes on loopback, as a batch script starts them."""

    scheduler_file: Path
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen]
    logs: Path
    #: start one more worker (a node that joins late); set by the fixture
    add_worker: Any = attrs.field(default=None, repr=False)

    def wait_ready(self, n_workers: int, timeout: float = 60.0) -> float:
        """Seconds until the scheduler file exists and ``n_workers`` are connected."""
        from distributed import Client

        start = time.monotonic()
        while not self.scheduler_file.exists():
            assert self.scheduler.poll() is None, (self.logs / "scheduler.err").read_text()
            assert time.monotonic() - start < timeout, "no scheduler file"
            time.sleep(0.1)
        with Client(scheduler_file=str(self.scheduler_file), timeout=timeout) as client:
            client.wait_for_workers(n_workers, timeout=timeout)
        return time.monotonic() - start

    def stop(self) -> None:
        for proc in [*self.workers, self.scheduler]:
            stop(proc)


@pytest.fixture
def dask_processes(tmp_path: Path, worker_env: dict[str, str]) -> Iterator[Any]:
    """Start ``dask scheduler --scheduler-file F`` and workers: call with the worker count."""
    started: list[DaskProcesses] = []

    def start(n_workers: int = 2) -> DaskProcesses:
        logs = tmp_path / "dask-logs"
        logs.mkdir(exist_ok=True)
        scheduler_file = tmp_path / "scheduler.json"

        def popen(argv: list[str], name: str) -> subprocess.Popen:
            return subprocess.Popen(
                argv, env=dict(os.environ), cwd=tmp_path, stdin=subprocess.DEVNULL,
                stdout=open(logs / f"{name}.out", "wb"), stderr=open(logs / f"{name}.err", "wb"),
            )

        scheduler = popen(scheduler_argv(scheduler_file), "scheduler")
        cluster = DaskProcesses(scheduler_file, scheduler, [], logs)
        started.append(cluster)
        def add_worker() -> subprocess.Popen:
            i = len(cluster.workers)
            cluster.workers.append(popen(
                worker_argv(scheduler_file, f"worker-{i}", tmp_path / f"worker-{i}", "--death-timeout", "60"),
                f"worker-{i}"))
            return cluster.workers[-1]

        cluster.add_worker = add_worker
        for _ in range(n_workers):
            add_worker()
        return cluster

    try:
        yield start
    finally:
        for cluster in started:
            cluster.stop()


@attrs.define
class Standins:
    """The stand-in scheduler commands in use: their log and job state."""

    log: Path
    state: Path

    def calls(self, tool: str) -> list[list[str]]:
        if not self.log.exists():
            return []
        lines = [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line]
        return [entry["argv"] for entry in lines if entry["tool"] == tool]

    def live_jobs(self, wait: float = 5.0) -> list[int]:
        """Jobs with a process still running (zombies not counted), after up to ``wait`` s."""
        deadline = time.monotonic() + wait
        while True:
            groups = {}
            for pidfile in self.state.glob("*/pid"):
                try:
                    groups[int(pidfile.read_text())] = int(pidfile.parent.name)
                except ValueError:
                    pass
            alive = sorted({groups[g] for g in _running_process_groups() if g in groups})
            if not alive or time.monotonic() > deadline:
                return alive
            time.sleep(0.1)


def _running_process_groups() -> set[int]:
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:
            continue
        if fields and fields[0] != "Z":
            found.add(int(fields[2]))  # state, ppid, pgrp
    return found


@pytest.fixture
def standins(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, worker_env: dict[str, str]) -> Iterator[Standins]:
    """STAND-INS for LSF and Slurm (tests/standins/bin) first on PATH; kill leftover jobs after."""
    state, log = tmp_path / "standin-state", tmp_path / "standin-calls.jsonl"
    monkeypatch.setenv("PATH", f"{STANDINS_BIN}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("STANDIN_STATE_DIR", str(state))
    monkeypatch.setenv("STANDIN_LOG", str(log))
    stand = Standins(log, state)
    try:
        yield stand
    finally:
        for pidfile in state.glob("*/pid"):
            try:
                os.killpg(int(pidfile.read_text()), signal.SIGKILL)
            except (ProcessLookupError, PermissionError, ValueError):
                pass
