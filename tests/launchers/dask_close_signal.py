"""Test-only Dask nanny preload that sends hpo-run a stop signal while its local cluster closes.

``DASK_DISTRIBUTED__NANNY__PRELOAD='["dask_close_signal"]'`` (with ``tests/launchers`` on
PYTHONPATH) loads it into the process that runs the nannies (hpo-run, for a local
cluster).  With ``$HPO_TEST_CLOSE_SIGNAL`` set to a signal name, the first nanny to close
sends that signal to its own process: a stop that lands in ``cluster.close()`` at the end
of a run, as a batch system's SIGTERM or a Ctrl-C may.  Without the variable it does nothing.
With ``$HPO_TEST_CLOSE_SIGNAL_AT`` set to a file name, it first writes the moment it
signals there (``time.monotonic()``, one clock for every process of the machine), so a
test times what follows the signal alone, not the run's start-up too.
"""

from __future__ import annotations

import os
import signal
import time
from typing import Any

SIGNAL_VARIABLE = "HPO_TEST_CLOSE_SIGNAL"
AT_VARIABLE = "HPO_TEST_CLOSE_SIGNAL_AT"
_sent = False


async def dask_teardown(nanny: Any) -> None:  # the preload protocol passes the nanny
    global _sent
    name = os.environ.get(SIGNAL_VARIABLE)
    if name and not _sent:
        _sent = True
        if os.environ.get(AT_VARIABLE):
            at = os.open(os.environ[AT_VARIABLE], os.O_WRONLY | os.O_CREAT | os.O_TRUNC)  # a few bytes, at once
            os.write(at, repr(time.monotonic()).encode())
            os.close(at)
        os.kill(os.getpid(), getattr(signal, name))
