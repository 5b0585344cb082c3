"""The Dask processes tests start themselves, as a batch script starts a cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DASK = str(Path(sys.executable).parent / "dask")


def scheduler_argv(scheduler_file: Path) -> list[str]:
    """A ``dask scheduler`` on loopback and free ports, its HTTP server too: with
    ``--no-dashboard`` alone that server still listened on every interface, at 8787."""
    return [DASK, "scheduler", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1", "--port", "0",
            "--no-dashboard", "--dashboard-address", "127.0.0.1:0"]


def worker_argv(scheduler_file: Path, name: str, local_directory: Path, *extra: str) -> list[str]:
    """A single-thread ``dask worker`` on loopback without a nanny: what it runs runs in it."""
    return [DASK, "worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1", "--no-nanny",
            "--nthreads", "1", "--no-dashboard", "--name", name, "--local-directory", str(local_directory), *extra]


def start_cluster(where: Path, workers: int, env: dict[str, str]) -> tuple[Path, list[subprocess.Popen]]:
    """A scheduler and ``workers`` workers that outlive the driver (a batch script's
    cluster), logging to ``where/<name>.log``: the scheduler file and the processes."""
    scheduler_file = where / "scheduler.json"

    def start(argv: list[str], name: str) -> subprocess.Popen:
        with open(where / f"{name}.log", "wb") as log:
            return subprocess.Popen(argv, cwd=where, env=env, stdin=subprocess.DEVNULL, stdout=log,
                                    stderr=subprocess.STDOUT)

    processes = [start(scheduler_argv(scheduler_file), "scheduler")]
    processes += [start(worker_argv(scheduler_file, f"w{i}", where / f"w{i}"), f"worker-{i}")
                  for i in range(workers)]
    return scheduler_file, processes
