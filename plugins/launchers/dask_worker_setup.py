"""Preloaded into every local Dask worker process (``LocalCluster(preload=[...])``).

A local worker is a child of hpo-run in the terminal's foreground process group, so
Ctrl-C (and SIGHUP, when the ssh session drops) reaches it as well as hpo-run: it printed
its own KeyboardInterrupt traceback, or died, while hpo-run stops the run in order with
one line.  The first workers inherit the ignored signals from hpo-run
(``_workers_ignore_the_terminal``), but one its nanny starts again after a worker died
is spawned later, with hpo-run's own handlers in place, and would not: each worker
ignores them here itself, at start-up.  SIGTERM is left alone: trainings inherit what
their worker ignores, and the time limit stops a training with SIGTERM first.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

#: what a terminal sends its whole foreground process group
TERMINAL_SIGNALS = (signal.SIGINT, signal.SIGHUP)


def dask_setup(worker: Any) -> None:  # the preload protocol passes the worker
    # distributed runs a worker's event loop, and so its preloads, in the process's main
    # thread; a worker started in a thread (tests, LocalCluster(processes=False)) keeps its own.
    if threading.current_thread() is threading.main_thread():
        for each in TERMINAL_SIGNALS:
            signal.signal(each, signal.SIG_IGN)
