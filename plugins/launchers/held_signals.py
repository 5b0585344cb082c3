"""Stop signals held while an engine starts or stops (both launchers).

See :func:`stop_signals_held`.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from dnnp_hpo.process import STOP_SIGNALS

from .dask_worker_setup import TERMINAL_SIGNALS


@contextmanager
def stop_signals_held(term_too: bool = False) -> Iterator[None]:
    """An engine starts (or stops) in this block: a stop signal waits for its end, and the
    processes started in it ignore the terminal's signals from their first instruction.

    Written for a local Dask cluster's start (below); Parsl's DataFlowKernel starts and
    cleans up in it too: a SIGTERM in the middle of either left Parsl's interchange
    running, and its interchange, started in the block, keeps the terminal's signals
    blocked (a Ctrl-C to the group killed it, and the cleanup then waited for its answer
    for ever).

    A terminal sends Ctrl-C (and SIGHUP, when the ssh session drops) to its whole
    foreground process group (:data:`dask_worker_setup.TERMINAL_SIGNALS`): a worker still
    importing, before its preload, printed a KeyboardInterrupt traceback or died, and
    SIGHUP killed the resource tracker.  SIG_IGN here, for them to inherit, lost the
    signal for hpo-run itself: a Ctrl-C while the cluster started (1.5 to 3 s, more on a
    loaded machine) did not stop the run.  They are blocked in this thread instead: the
    threads started here (the cluster's event loop, those that spawn the workers) inherit
    the mask, the processes they spawn keep it across exec, and a blocked signal waits.
    Each worker ignores and unblocks them in its preload (``dask_worker_setup``); hpo-run
    receives its own at the end.  The resource tracker is started first, here: starting
    it unblocks SIGINT in the thread that does.

    A Python handler of a stop signal (hpo-run's, core/cli.py) is replaced meanwhile by
    one that notes it: a stop raised in the middle of ``LocalCluster()`` (SIGTERM) left a
    half-started cluster, and tracebacks of distributed's exit hook and of the workers
    being spawned after hpo-run's line.  At the end the handlers are put back and handle
    the signals: the run stops in order, and the caller closes the started cluster.

    ``term_too`` (a local Dask cluster's start): SIGTERM is blocked as well.  A batch
    system stopping the job (scancel) sends it to the whole group: a worker still
    importing died of it, its nanny waited for it for ever, and so did hpo-run, deaf to
    any further signal (helper-82).  Each worker discards a pending one in its preload and
    puts SIGTERM back to its default, which its trainings inherit (the time limit stops
    them with it).  Not for Parsl: its interchange and worker pools, started in the
    block, are stopped with SIGTERM."""
    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may set signal handlers (hpo-run's driver is there)
        return
    from multiprocessing import resource_tracker

    noted: list[int] = []

    def note(signum: int, _frame: object) -> None:
        noted.append(signum)

    previous = {each: handler for each in STOP_SIGNALS if callable(handler := signal.getsignal(each))}
    # One ignored already (nohup, a background job) is inherited ignored: nothing to hold.
    held = (*TERMINAL_SIGNALS, signal.SIGTERM) if term_too else TERMINAL_SIGNALS
    blocked = [each for each in held if signal.getsignal(each) is not signal.SIG_IGN]
    for each in previous:
        signal.signal(each, note)
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    try:
        resource_tracker.ensure_running()  # unblocks SIGINT (and SIGTERM) in this thread
        signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
        yield
    finally:
        # The mask first: a pending one is noted here.  Put back after the handlers, a
        # signal caught just before could run the restored handler first, whose stop
        # skipped the unmask and left the terminal's signals blocked (helper-87).
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        for each, handler in previous.items():
            signal.signal(each, handler)
        for each in noted:
            signal.raise_signal(each)
