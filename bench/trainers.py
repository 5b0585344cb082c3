"""Stand-in trainings for the engine benchmarks (importable on the Dask workers).

* ``lognormal_sleep``: the ``function`` trainer's callable for the utilisation
  benchmark: sleeps a lognormal time (median 1 s, sigma 0.5 by default) drawn from a
  generator seeded by the genome, so the same genome always takes the same time.

* ``slower_when_better`` and ``faster_when_better``: ``sleep_time`` scaled by how close
  the candidate is to ZDT's optimum, for the evaluation-time bias benchmark
  (:mod:`bench.time_bias`); simulated, never slept.

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


#: how many times longer an optimal ZDT candidate trains than a typical random one
#: (``slower_when_better``; shorter for ``faster_when_better``), and a random one than
#: the worst: a descriptor cutoff from 6 to 12 A costs a DeePMD training about that
TIME_SPREAD = 3.0


def _closeness(params: Mapping[str, float]) -> float:
    """ZDT's distance term g (1 on the optimal front, 10 at worst, 5.5 for a typical
    random candidate) as -1 (worst) .. 0 (typical) .. 1 (optimal)."""
    x = [float(params[k]) for k in sorted(params, key=lambda k: int(k.lstrip("x")))][1:]
    g = 1.0 + 9.0 * sum(x) / len(x)
    return (5.5 - g) / 4.5


def slower_when_better(params: Mapping[str, float]) -> float:
    """``sleep_time`` times ``TIME_SPREAD ** closeness``: the nearer the front, the longer
    the training, as a larger cutoff gives a better and slower DeePMD model."""
    return sleep_time(params) * TIME_SPREAD ** _closeness(params)


def faster_when_better(params: Mapping[str, float]) -> float:
    """``sleep_time`` divided by ``TIME_SPREAD ** closeness``: the nearer the front, the
    shorter the training (bad settings that run until the time limit)."""
    return sleep_time(params) / TIME_SPREAD ** _closeness(params)


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
