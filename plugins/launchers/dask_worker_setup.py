"""Preloaded into every local Dask worker process (``LocalCluster(preload=[...])``).

A local worker is a child of hpo-run in the terminal's foreground process group, so
Ctrl-C reaches it as well as hpo-run, and it printed its own KeyboardInterrupt traceback
while hpo-run stops the run in order with one line.  The first workers inherit an
ignored SIGINT from hpo-run (``_workers_ignore_ctrl_c``), but one its nanny starts
again after a worker died is spawned later, with hpo-run's own handler in place, and
would not: each worker sets it here itself, at start-up.
"""

from __future__ import annotations

import signal
import threading
from typing import Any


def dask_setup(worker: Any) -> None:  # the preload protocol passes the worker
    # distributed runs a worker's event loop, and so its preloads, in the process's main
    # thread; a worker started in a thread (tests, LocalCluster(processes=False)) keeps its own.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
