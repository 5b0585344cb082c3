"""Analytic multi-objective test problems for the ``function`` trainer.

Each takes the decoded parameters (named x0, x1, ... in spec order; every value in
[0, 1]) and returns the objective values.  Used by the tests, the quickstart before any
DeePMD-kit is installed, and the optimizer benchmarks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping


def _vector(params: Mapping[str, float]) -> list[float]:
    return [float(params[k]) for k in sorted(params, key=lambda k: int(k.lstrip("x")))]


def zdt1(params: Mapping[str, float]) -> tuple[float, float]:
    """ZDT1: convex front f2 = 1 - sqrt(f1)."""
    x = _vector(params)
    g = 1.0 + 9.0 * sum(x[1:]) / (len(x) - 1)
    return x[0], g * (1.0 - math.sqrt(x[0] / g))


def zdt2(params: Mapping[str, float]) -> tuple[float, float]:
    """ZDT2: non-convex front f2 = 1 - f1^2."""
    x = _vector(params)
    g = 1.0 + 9.0 * sum(x[1:]) / (len(x) - 1)
    return x[0], g * (1.0 - (x[0] / g) ** 2)


def zdt3(params: Mapping[str, float]) -> tuple[float, float]:
    """ZDT3: disconnected front."""
    x = _vector(params)
    g = 1.0 + 9.0 * sum(x[1:]) / (len(x) - 1)
    h = 1.0 - math.sqrt(x[0] / g) - (x[0] / g) * math.sin(10.0 * math.pi * x[0])
    return x[0], g * h


def dtlz2(params: Mapping[str, float]) -> tuple[float, float]:
    """DTLZ2 with two objectives: the front is the quarter circle f1^2 + f2^2 = 1."""
    x = _vector(params)
    g = sum((xi - 0.5) ** 2 for xi in x[1:])
    return (
        (1.0 + g) * math.cos(x[0] * math.pi / 2.0),
        (1.0 + g) * math.sin(x[0] * math.pi / 2.0),
    )
