"""Trainer callables for the steady-state tests; imported by Dask and Parsl workers."""

from __future__ import annotations

import hashlib
import math
import time

from dnnp_hpo.problems import zdt1


def uneven_seconds(params, median: float = 0.05, sigma: float = 0.8) -> float:
    """A lognormal 'training time' fixed by the candidate itself (deterministic)."""
    digest = hashlib.sha256(repr(sorted(params.items())).encode()).digest()
    u1, u2 = (int.from_bytes(digest[i:i + 4], "big") / 2**32 for i in (0, 4))
    normal = math.sqrt(-2 * math.log(1 - u1)) * math.cos(2 * math.pi * u2)
    return median * math.exp(sigma * normal)


def slow_zdt1(params):
    """ZDT1 that takes an uneven time, as trainings with different hyperparameters do."""
    time.sleep(uneven_seconds(params))
    return zdt1(params)


def failing_zdt1(params):
    """ZDT1 that raises for a third of the candidates (by x0): failures must not stall the loop."""
    if params["x0"] < 0.33:
        raise RuntimeError(f"training diverged at x0={params['x0']:.3f}")
    return slow_zdt1(params)


def zdt1_killing_its_worker_once(params):
    """ZDT1; the first call to find no marker file SIGKILLs its own worker process, as the
    OOM killer would, in the middle of the evaluation."""
    import os
    import signal
    from pathlib import Path

    marker = Path(os.environ["STEADY_KILL_MARKER"])
    try:
        marker.open("x").close()
    except FileExistsError:
        return slow_zdt1(params)
    os.kill(os.getpid(), signal.SIGKILL)
    raise AssertionError("unreachable")
