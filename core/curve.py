"""A training's learning curve by column names, and the fitness read from it.

Each code writes its errors in its own file and layout; its trainer plugin reads the
columns it needs, by their names (never by position: they change between versions,
backends and models), into an :class:`Lcurve`, and takes the metrics from it with
:func:`fitness`: the last row, or the mean of the last k, with NaN, infinity and
negative errors refused.  Every reason a curve gives no fitness is an
:class:`LcurveError`, whose message is what the evaluation records.
"""

from __future__ import annotations

import math
import os
import stat
from collections.abc import Collection, Mapping
from pathlib import Path

import attrs
import numpy as np


class LcurveError(ValueError):
    """The learning curve gives no usable fitness; the message is the recorded reason."""


def curve_text(path: Path, missing: str) -> str:
    """The text of the learning curve a training wrote at ``path``; LcurveError with
    ``missing`` if there is none, or if what is there is not a regular file: a FIFO
    blocked its worker for ever, outside any time limit, and a link to /dev/zero was read
    until the worker's memory ran out (helper-117)."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode) and not path.is_dir():  # a directory: "Is a directory"
            raise LcurveError(f"{path.name} is not a regular file, so not read")
        return path.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        raise LcurveError(missing) from None
    except OSError as exc:
        raise LcurveError(f"cannot read {path.name}: {exc}") from None


@attrs.frozen
class Lcurve:
    """The named columns (``step`` among them) and the complete data rows of one learning
    curve."""

    columns: tuple[str, ...]
    rows: np.ndarray  #: shape (n_rows, n_columns)


def fitness(lcurve: Lcurve, metrics: Mapping[str, str], last_rows: int = 1,
            required: Collection[str] | None = None) -> dict[str, float]:
    """``{metric: value}`` where value is column ``metrics[metric]`` of the last row, or the
    mean of the last ``last_rows`` rows (all rows if there are fewer).

    LcurveError names a missing column, or a NaN, infinite or negative value and its
    step, of a metric in ``required`` (the objectives; None: every metric).  Every
    column read is an error (RMSE, MAE, a loss) or a learning rate: a negative one comes
    from a broken curve, not a training, and would dominate every real candidate.  A
    metric not required is left out of the result where its column is missing or its
    value bad: a code may write nan where the data hold no reference values (DeePMD-kit
    does for virials), and a metric only recorded must not fail a training that
    measured its objectives.
    """
    needed = set(metrics) if required is None else set(required)
    missing = [column for metric, column in metrics.items() if metric in needed and column not in lcurve.columns]
    if missing:
        raise LcurveError(f"lcurve has no column(s) {', '.join(missing)} "
                          f"(it has: {', '.join(lcurve.columns)})")
    tail = lcurve.rows[-last_rows:]
    steps = tail[:, lcurve.columns.index("step")]
    result: dict[str, float] = {}
    for metric, column in metrics.items():
        if column not in lcurve.columns:
            continue
        values = tail[:, lcurve.columns.index(column)]
        bad = [(step, value) for step, value in zip(steps, values) if not math.isfinite(value) or value < 0]
        if bad and metric in needed:
            step, value = bad[0]
            what = value if not math.isfinite(value) else f"negative ({value:g})"
            raise LcurveError(f"{column} is {what} at step {int(step)}")
        if not bad:
            result[metric] = float(values.mean())
    return result
