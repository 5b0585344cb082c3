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
