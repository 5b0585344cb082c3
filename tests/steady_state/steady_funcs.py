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
