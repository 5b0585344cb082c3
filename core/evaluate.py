"""The function a worker runs for one trial: train, measure, apply the failure policy."""

from __future__ import annotations

import math
import os
import socket
import time
from collections.abc import Mapping, Sequence

from dnnp_hpo.errors import TrainingFailed, exit_call, shown
from dnnp_hpo.evaluation import (
    ERROR,
    FAILED,
    MAXINT,
    OK,
    Evaluation,
    Trial,
    failed_evaluation,
    leave_outcome,
    one_line,
)
from dnnp_hpo.hookspecs import Trainer


def run_trial(trainer: Trainer, trial: Trial, objectives: Sequence[str]) -> Evaluation:
    """Train ``trial`` and return its record, also left in its directory for a resume to
    harvest; never raises for a failed training."""
    evaluation = _evaluated(trainer, trial, objectives)
    leave_outcome(evaluation)
    return evaluation


def _evaluated(trainer: Trainer, trial: Trial, objectives: Sequence[str]) -> Evaluation:
    start = time.time()

    def failed(status: str, reason: str) -> Evaluation:
        return failed_evaluation(trial, len(objectives), status, reason, start, time.time())

    try:
        raw = trainer.train(trial)
    except TrainingFailed as exc:
        return failed(*_given_failure(exc))
    except Exception as exc:  # noqa: BLE001 - the failure policy: record it, never stop the run
        return failed(ERROR, f"{type(exc).__name__}: {exc}")
    except SystemExit as exc:  # not an Exception: on a Dask worker it killed the worker process
        return failed(ERROR, f"{type(trainer).__name__}.train called {exit_call(exc)}")
    return measured(trial, raw, objectives, start, time.time())


def _given_failure(exc: TrainingFailed) -> tuple[str, str]:
    """The status and reason a TrainingFailed is recorded with.  A status no reader of the
    run knows (``ok`` with the MAXINT fitness, ``running``, a typo such as ``timout``) is
    recorded as ``error`` with a reason naming it, so that the plugin's author sees it; the
    run goes on, as for any failure."""
    status = getattr(exc, "status", FAILED)  # a subclass that never called TrainingFailed.__init__
    reason = getattr(exc, "reason", str(exc))
    if isinstance(status, str) and status in TrainingFailed.STATUSES:
        return str(status), reason
    *first, last = TrainingFailed.STATUSES
    return ERROR, (f"trainer raised TrainingFailed with status {shown(status)}, expected "
                   f"{', '.join(first)} or {last}: {reason}")


def measured(trial: Trial, raw: Mapping[str, float], objectives: Sequence[str],
             start: float, stop: float) -> Evaluation:
    """The record of a training that returned ``raw`` metrics (failure policy applied)."""

    def failed(status: str, reason: str) -> Evaluation:
        return failed_evaluation(trial, len(objectives), status, reason, start, stop)

    try:
        # dict(): whatever it takes (a pandas Series, (name, value) pairs) has served as metrics
        pairs = dict(raw).items()
    except (TypeError, ValueError):
        # its own words for a list of numbers: "cannot convert dictionary update sequence element #0"
        return failed(ERROR, one_line(f"trainer returned {type(raw).__name__} {raw!r}, expected a mapping of "
                                      "metric names to numbers", 300))
    try:
        metrics = {str(k): float(v) for k, v in pairs}
    except (TypeError, ValueError) as exc:
        return failed(ERROR, f"trainer returned metrics that are not numbers: {exc}")
    missing = [name for name in objectives if name not in metrics]
    if missing:
        return failed(ERROR, f"trainer gave no value for objective(s) {', '.join(missing)}; "
                      f"it measured: {', '.join(metrics) or 'nothing'}")
    fitness = tuple(metrics[name] for name in objectives)
    bad = [name for name, value in zip(objectives, fitness) if not math.isfinite(value)]
    if bad:
        # Only the bad values: a reason shared by every such training groups in the report.
        return failed(FAILED, one_line("non-finite " + ", ".join(f"{name} ({metrics[name]})" for name in bad)))
    # The failure fitness must stay worse than any result (paper, 2.2.4): a value at or above
    # MAXINT would rank behind the failures and be taken for one by every reader of the run.
    huge = [name for name, value in zip(objectives, fitness) if value >= MAXINT]
    if huge:
        return failed(FAILED, one_line(", ".join(f"{name} ({metrics[name]:g})" for name in huge)
                                       + f" at or above {MAXINT:.0f}, the failure fitness: measure "
                                       "it in a larger unit"))
    return Evaluation(
        trial=trial, status=OK, reason="", fitness=fitness, metrics=metrics,
        start=start, stop=stop, hostname=socket.gethostname(), pid=os.getpid(),
    )
