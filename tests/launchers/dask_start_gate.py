"""Test-only Dask nanny preload that holds a local cluster's start open until a test says.

``DASK_DISTRIBUTED__NANNY__PRELOAD='["dask_start_gate"]'`` (with ``tests/launchers`` on
PYTHONPATH) loads it into the process that runs the nannies (hpo-run, for a local
cluster), before each nanny spawns its worker.  With ``$HPO_TEST_START_GATE`` set to a
path, the first nanny goes on (its worker is spawned); each other one writes
``<path>.held`` and waits for ``<path>`` to exist (60 s at most), so ``LocalCluster()``
has not returned until the test creates it.  Without the variable it does nothing.
"""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Any

GATE_VARIABLE = "HPO_TEST_START_GATE"
HOLD_AT_MOST_S = 60.0
_nannies = 0  #: nannies seen by this process


async def dask_setup(nanny: Any) -> None:  # the preload protocol passes the nanny
    global _nannies
    gate = os.environ.get(GATE_VARIABLE)
    _nannies += 1
    if not gate or _nannies == 1:
        return
    Path(f"{gate}.held").touch()
    deadline = time.monotonic() + HOLD_AT_MOST_S
    while not os.path.exists(gate) and time.monotonic() < deadline:
        await asyncio.sleep(0.02)  # the event loop, hpo-run's cluster with it, runs on
