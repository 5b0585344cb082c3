"""A call made in a thread of its own, waited for with a bound (both launchers).

An engine that stops answering (a dead Parsl interchange, a Dask scheduler that hangs)
must not hold hpo-run: the call runs in a daemon thread, and the caller waits for its
future as long as it chooses, with the stop signals free.  A thread stuck in a call that
never returns is left to end with the process.
"""

from __future__ import annotations

import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any


def in_thread(call: Callable[[], Any], name: str) -> concurrent.futures.Future[Any]:
    """``call()`` in a daemon thread named ``name``; its future."""
    future: concurrent.futures.Future[Any] = concurrent.futures.Future()

    def run() -> None:
        try:
            future.set_result(call())
        except BaseException as exc:  # noqa: BLE001 - handed to the waiter
            future.set_exception(exc)

    threading.Thread(target=run, name=name, daemon=True).start()
    return future


#: what :func:`answer` gives for a call that has not ended within its wait
STILL_RUNNING = object()


def answer(future: Any, timeout: float) -> Any:
    """The result of ``future`` (a concurrent or a Dask future), waited for at most
    ``timeout`` seconds; STILL_RUNNING if it has not ended by then.  An exception the call
    raised is raised, TimeoutError too: ``result(timeout=...)`` raises that type for its
    own wait as well, and a call that had raised it was read as one still running, waited
    for again and again (a Dask task for ever: helper-118)."""
    try:
        return future.result(timeout=timeout)
    except TimeoutError:  # concurrent.futures.TimeoutError is TimeoutError since Python 3.11
        # Ended by the call's own TimeoutError, or just now (then the next wait returns
        # at once; not result() here: a Dask result may be lost with its worker meanwhile)
        try:
            error = future.exception(timeout=timeout) if future.done() else None
        except TimeoutError:  # a Dask result lost with its worker since: computed again
            return STILL_RUNNING
        if error is not None:
            raise error from None
        return STILL_RUNNING
