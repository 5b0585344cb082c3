"""Exact hypervolume of a set of minimised points against a reference point (moocore).

Only points strictly better than the reference in every objective count.  moocore's
algorithms are O(n log n) in two and three objectives and O(n^2) in four (10,000 points
on one front: 1, 3 and 50 ms), so every generation of every run is computed.  In five
or more objectives the time grows as n^(d-2) at worst (six objectives, 1,000 points on
one front: about 2 s a population).
"""

from __future__ import annotations

from collections.abc import Sequence

import moocore
import numpy as np


def hypervolume(points: Sequence[Sequence[float]], reference: Sequence[float]) -> float:
    """The volume of the region dominated by ``points`` and bounded by ``reference``
    (0.0 for no points, or none inside the reference box)."""
    reference = np.asarray(reference, dtype=float)
    points = np.asarray(points, dtype=float).reshape(-1, len(reference))
    # moocore drops the points outside the box itself, but not one holding NaN (its 3-D
    # algorithm returns NaN): a comparison with NaN is false, so this drops it as well.
    points = points[np.all(points < reference, axis=1)]
    return float(moocore.hypervolume(points, ref=reference))  # 0.0 for no points


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
