"""Preloaded into every local Dask worker process (``LocalCluster(preload=[...])``).

A local worker is a child of hpo-run in the terminal's foreground process group, so
Ctrl-C (and SIGHUP, when the ssh session drops) reaches it as well as hpo-run: it printed
its own KeyboardInterrupt traceback, or died, while hpo-run stops the run in order with
one line.  Each worker ignores them here, at start-up.  The workers spawned while the
cluster starts (and, through the mask of the cluster's threads, those their nannies start
again after a worker died) inherit them blocked (``held_signals.stop_signals_held``): one sent before
this point waits, and is discarded here; they are unblocked after, so that the worker's
trainings inherit them ignored, not blocked.  SIGTERM, held too while a local cluster
starts, is discarded if pending and then left at its default: trainings inherit what
their worker ignores, and the time limit stops a training with SIGTERM first.
"""

from __future__ import annotations

import logging
import signal
import threading
from typing import Any

from .dask_versions import read_versions_from_metadata

#: what a terminal sends its whole foreground process group
TERMINAL_SIGNALS = (signal.SIGINT, signal.SIGHUP)


class DroppedLines(logging.Filter):
    """Drops the records of a logger whose message contains one of ``phrases`` (and so
    their traceback); every other line still shows.  Dask's lines about a state hpo-run
    tells in its own words (a worker dead under a task, the scheduler gone on Ctrl-C)
    only put timestamps and task keys among hpo-run's."""

    def __init__(self, *phrases: str) -> None:
        super().__init__()
        self.phrases = phrases

    def filter(self, record: logging.LogRecord) -> bool:
        return not (isinstance(record.msg, str) and any(p in record.msg for p in self.phrases))


def quiet_when_the_scheduler_goes() -> None:
    # "Failed to communicate with scheduler during heartbeat." and its traceback: the
    # scheduler lives in hpo-run's process, so it is gone only when hpo-run stops (a
    # Ctrl-C while a worker restarts, say), which hpo-run tells in its one line; the
    # worker's traceback came after it, now and then.
    logging.getLogger("distributed.worker").addFilter(DroppedLines("Failed to communicate with scheduler"))


def dask_setup(worker: Any) -> None:  # the preload protocol passes the worker
    read_versions_from_metadata()  # before the worker reports its versions to the scheduler
    quiet_when_the_scheduler_goes()
    # distributed runs a worker's event loop, and so its preloads, in the process's main
    # thread; a worker started in a thread (tests, LocalCluster(processes=False)) keeps its own.
    if threading.current_thread() is threading.main_thread():
        for each in TERMINAL_SIGNALS:
            signal.signal(each, signal.SIG_IGN)  # a pending one is discarded
        signal.pthread_sigmask(signal.SIG_UNBLOCK, TERMINAL_SIGNALS)
        # SIGTERM, held as well while the cluster started (held_signals, term_too): one sent
        # to the whole group then (a batch system stopping the job) is discarded, not the
        # death of a worker its nanny waits for; then back to what it was, as trainings
        # inherit it.
        if signal.SIGTERM in signal.pthread_sigmask(signal.SIG_BLOCK, []):
            previous = signal.signal(signal.SIGTERM, signal.SIG_IGN)
            signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGTERM])
            signal.signal(signal.SIGTERM, previous)
