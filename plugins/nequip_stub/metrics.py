"""Reading the ``metrics.csv`` that Lightning's CSVLogger writes during ``nequip-train``.

Each logging call of Lightning is a row, so training-step, training-epoch and
validation-epoch values sit on different rows of one table with empty cells elsewhere.
The validation errors are taken, by column name (``val0_epoch/forces_rmse``), from the
rows where every required column (the objectives') has a value: one row per validation
epoch; a column only recorded (``train_loss_epoch/weighted_sum``, logged on a row of its
own) gets the value logged for the same epoch, if any.  They
become an :class:`~dnnp_hpo.curve.Lcurve`, so the fitness (last row, or mean of the
last k; NaN and infinity refused) is computed by the same :func:`~dnnp_hpo.curve.fitness`
as every trainer's.  :func:`check_complete` tells a curve whose last validation epoch is
short of the config's ``max_epochs``.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from dnnp_hpo.curve import Lcurve, LcurveError, curve_text
from dnnp_hpo.training import is_count

STEP = "step"
EPOCH = "epoch"  #: Lightning's 0-based epoch, on every row


def read_metrics(path: Path, columns: Sequence[str], required: Sequence[str] | None = None) -> Lcurve:
    """``(step, *columns)`` of the rows of ``path`` where all ``required`` columns (None:
    all ``columns``) have a value; a column not required takes the last value logged for
    the row's epoch (Lightning logs training and validation epochs on rows of their own),
    NaN where there is none, which :func:`~dnnp_hpo.curve.fitness` leaves out.

    LcurveError (its message is the recorded reason) if the file is missing, lacks a
    required column, holds a value that is not a number, or has no such row (no
    validation epoch finished).  A last row cut short while being written is left out.
    """
    required = list(columns) if required is None else [c for c in columns if c in required]
    name = path.name
    text = curve_text(path, f"the training wrote no {name} (is trainer.metrics_file where the CSVLogger of the "
                            "template writes?)")
    table = list(csv.reader(io.StringIO(text)))
    if not table:
        raise LcurveError(f"{name} is empty")
    header = table[0]
    body = [(number, row) for number, row in enumerate(table[1:], 2) if row]
    missing = [c for c in (STEP, *required) if c not in header]
    if missing:
        hint = " (did a validation epoch finish?)" if all(c.startswith("val") for c in missing) else ""
        raise LcurveError(f"{name} has no column(s) {', '.join(missing)}{hint} (it has: {', '.join(header)})")
    if body and len(body[-1][1]) != len(header):
        body.pop()  # cut short while being written
    for number, row in body:
        if len(row) != len(header):
            raise LcurveError(f"{name} line {number}: expected {len(header)} fields, got {len(row)}")
    at: dict[str, int] = {}  # each column's position, looked up once (the first, as header.index)
    for position, column in enumerate(header):
        at.setdefault(column, position)
    recorded = [c for c in columns if c not in required and c in at]
    logged = _by_epoch(body, at, recorded) if recorded and EPOCH in at else {}
    rows = []
    for number, row in body:
        cells = [row[at[c]].strip() for c in (STEP, *required)]
        if not all(cells[1:]):
            continue
        try:
            values = dict(zip((STEP, *required), map(float, cells)))  # float() reads "nan" and "inf" too
        except ValueError:
            raise LcurveError(f"{name} line {number}: expected numbers in {', '.join(required)}") from None
        epoch = row[at[EPOCH]].strip() if EPOCH in at else None
        rows.append([values.get(c, logged.get((c, epoch), np.nan)) for c in (STEP, *columns)])
    if not rows:
        raise LcurveError(f"{name} has no row with values for all of {', '.join(required)} "
                          "(did a validation epoch finish?)")
    return Lcurve((STEP, *columns), np.array(rows, dtype=float))


def _by_epoch(body: Sequence[tuple[int, list[str]]], at: Mapping[str, int],
              columns: Sequence[str]) -> dict[tuple[str, str], float]:
    """``(column, epoch) -> value``: the last number each column logged in each epoch
    (a cell that is not a number counts as not logged: the column is only recorded);
    ``at``: each column's position in a row."""
    logged: dict[tuple[str, str], float] = {}
    for _, row in body:
        for column in columns:
            cell = row[at[column]].strip()
            if cell:
                try:
                    logged[(column, row[at[EPOCH]].strip())] = float(cell)
                except ValueError:
                    continue
    return logged


def step_or_time_limit(trainer: Mapping[str, Any]) -> bool:
    """Whether this ``trainer:`` block sets ``max_steps`` or ``max_time`` (-1 and null are
    Lightning's "no limit")."""
    return any(trainer.get(key) not in (None, -1) for key in ("max_steps", "max_time"))


def stops_early(trainer: Mapping[str, Any]) -> bool:
    """Whether Lightning may end this ``trainer:`` block's training before ``max_epochs``
    and exit 0: an ``EarlyStopping`` or ``Timer`` callback, ``max_time`` or ``max_steps``."""
    callbacks = trainer.get("callbacks")
    callbacks = callbacks if isinstance(callbacks, list) else [callbacks]
    stoppers = [c for c in callbacks if isinstance(c, Mapping)
                and str(c.get("_target_", "")).rsplit(".", 1)[-1] in ("EarlyStopping", "Timer")]
    return bool(stoppers) or step_or_time_limit(trainer)


def check_complete(curve: Lcurve, config: Mapping[str, Any]) -> None:
    """LcurveError unless the last validation row is of the last epoch a complete training
    validates (``max_epochs`` is a multiple of ``check_val_every_n_epoch``, checked at
    start-up); nothing is checked where the config may stop early, has no numbers there,
    or ``curve`` has no ``epoch`` column."""
    trainer = config.get("trainer")
    if not isinstance(trainer, Mapping) or EPOCH not in curve.columns or stops_early(trainer):
        return
    epochs = trainer.get("max_epochs")
    if not (is_count(epochs) and is_count(trainer.get("check_val_every_n_epoch", 1))):
        return
    last = int(curve.rows[-1, curve.columns.index(EPOCH)]) + 1
    if last < epochs:
        raise LcurveError(f"{EPOCH} {last} is the last validated, short of max_epochs {epochs}: the "
                          "training did not end")
