"""Stand-in trainings for the engine benchmarks (importable on the Dask workers).

* ``lognormal_sleep``: the ``function`` trainer's callable for the utilisation
  benchmark: sleeps a lognormal time (median 1 s, sigma 0.5 by default) drawn from a
  generator seeded by the genome, so the same genome always takes the same time.

* ``fixed_sleep``: sleeps ``BENCH_SLEEP_FIXED`` seconds (default 0.2) in the worker, for
  the scaling benchmark's in-worker row.

The overhead benchmark's do-nothing training command is ``bench/fake_dp.py``.
"""

from __future__ import annotations

import hashlib
import math
import os
import struct
import time
from collections.abc import Mapping

import numpy as np

MEDIAN_S = float(os.environ.get("BENCH_SLEEP_MEDIAN", "1.0"))
SIGMA = float(os.environ.get("BENCH_SLEEP_SIGMA", "0.5"))
FIXED_S = float(os.environ.get("BENCH_SLEEP_FIXED", "0.2"))


def _seed(params: Mapping[str, float]) -> int:
    data = b"".join(struct.pack("<d", float(params[k])) for k in sorted(params))
    return int.from_bytes(hashlib.sha256(data).digest()[:8], "little")


def sleep_time(params: Mapping[str, float]) -> float:
    return MEDIAN_S * math.exp(SIGMA * np.random.default_rng(_seed(params)).standard_normal())


def lognormal_sleep(params: Mapping[str, float]) -> tuple[float, float]:
    """Sleep, then return ZDT1 of the parameters (so the optimizer has a problem)."""
    from dnnp_hpo.problems import zdt1

    time.sleep(sleep_time(params))
    return zdt1(params)


def fixed_sleep(params: Mapping[str, float]) -> tuple[float, float]:
    """Sleep ``FIXED_S`` seconds, then return ZDT1 of the parameters."""
    from dnnp_hpo.problems import zdt1

    time.sleep(FIXED_S)
    return zdt1(params)
