"""Exact hypervolume of a set of minimised points against a reference point.

Two objectives: the sweep over the points sorted by the first objective (O(n log n)).
More objectives: slicing along the last objective (HSO), which reduces to the 2-D sweep;
exact, and fast enough for populations of a few hundred in three or four objectives.
Only points strictly better than the reference in every objective count.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: above about this many 2-D sweeps (n ** (d - 2)) the slicing algorithm is skipped
MAX_SWEEPS = 200_000


class TooLarge(ValueError):
    """The exact algorithm would take too long for this many points and objectives."""


def _inside(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    if points.size == 0:
        return points.reshape(0, len(reference))
    return points[np.all(points < reference, axis=1)]


def _sweep_2d(points: np.ndarray, reference: np.ndarray) -> float:
    """Area dominated by ``points`` (all strictly inside the reference box)."""
    order = np.lexsort((points[:, 1], points[:, 0]))  # by f1, then f2
    area = 0.0
    best_f2 = reference[1]
    for f1, f2 in points[order]:
        if f2 < best_f2:
            area += (reference[0] - f1) * (best_f2 - f2)
            best_f2 = f2
    return float(area)


def _slice(points: np.ndarray, reference: np.ndarray) -> float:
    d = points.shape[1]
    if len(points) == 0:
        return 0.0
    if d == 1:
        return float(reference[0] - points[:, 0].min())
    if d == 2:
        return _sweep_2d(points, reference)
    order = np.argsort(points[:, -1], kind="stable")
    points = points[order]
    volume = 0.0
    for i in range(len(points)):
        top = points[i + 1, -1] if i + 1 < len(points) else reference[-1]
        height = top - points[i, -1]
        if height > 0:
            volume += _slice(points[: i + 1, :-1], reference[:-1]) * height
    return float(volume)


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """The volume of the region dominated by ``points`` and bounded by ``reference``."""
    reference = np.asarray(reference, dtype=float)
    points = np.asarray(points, dtype=float).reshape(-1, len(reference))
    points = _inside(points, reference)
    d = len(reference)
    if d >= 3 and float(len(points)) ** (d - 2) > MAX_SWEEPS:
        raise TooLarge(f"{len(points)} points in {d} objectives")
    return _slice(points, reference)


def default_reference(values: np.ndarray, margin: float = 0.1) -> np.ndarray:
    """The worst finite value of each objective plus ``margin`` times its range.

    The margin lets the extreme points of a front add to the volume; with a range of
    zero it is ``margin`` times the value's magnitude (or ``margin`` itself at zero).
    """
    values = np.asarray(values, dtype=float)
    worst = values.max(axis=0)
    spread = worst - values.min(axis=0)
    spread = np.where(spread > 0, spread, np.where(worst != 0, np.abs(worst), 1.0))
    return worst + margin * spread
