"""The function a worker runs for one trial: train, measure, apply the failure policy."""

from __future__ import annotations

import math
import os
import socket
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from dnnp_hpo.errors import TrainingFailed, described, exit_call, shown
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
from dnnp_hpo.process import TrainingStopped


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
    except TrainingStopped:
        raise  # not the candidate's failure: nothing recorded or left, a resume trains it again
    except Exception as exc:  # noqa: BLE001 - the failure policy: record it, never stop the run
        return failed(ERROR, _with_traceback(trial, exc, described(exc)))
    except SystemExit as exc:  # not an Exception: on a Dask worker it killed the worker process
        return failed(ERROR, _with_traceback(trial, exc, f"{type(trainer).__name__}.train called {exit_call(exc)}"))
    return measured(trial, raw, objectives, start, time.time())


#: The traceback of a trainer's bug (status ``error``), left in the evaluation's directory:
#: the reason says what was raised, this file where.
TRACEBACK = "dnnp-hpo-traceback.txt"
_REASON_LIMIT = 300  #: what one_line keeps of a reason (individuals.csv, the journal)


def _with_traceback(trial: Trial, exc: BaseException, reason: str) -> str:
    """``reason``, ending with where the traceback of ``exc`` was saved, as the run directory
    names it (``evals/<uuid>/dnnp-hpo-traceback.txt``); the reason is shortened to keep that
    pointer within what is recorded.  ``reason`` alone when it cannot be saved."""
    saved = _leave_traceback(trial, exc)
    if saved is None:
        return reason
    pointer = f" (traceback in {Path(trial.workdir.parent.name, trial.workdir.name, TRACEBACK).as_posix()})"
    return one_line(reason, max(_REASON_LIMIT - len(pointer), 40)) + pointer


def _leave_traceback(trial: Trial, exc: BaseException) -> Path | None:
    """Write the traceback of ``exc`` to the trial's directory, made if the trainer failed
    before making it (never renamed away, unlike make_workdir's: it is this attempt's);
    None if it cannot be written (a read-only or full disk): best effort, as the outcome
    file, since the evaluation is recorded either way."""
    path = trial.workdir / TRACEBACK
    partial = trial.workdir / f"{TRACEBACK}.part"
    try:
        text = "".join(traceback.format_exception(exc))
        trial.workdir.mkdir(parents=True, exist_ok=True)
        partial.write_text(f"evaluation {trial.uuid} (birth {trial.birth_id}, generation {trial.generation}), "
                           f"params {trial.params!r}:\n{text}", encoding="utf-8", errors="replace")
        os.replace(partial, path)  # a reader never sees half a file
    except Exception:  # noqa: BLE001 - OSError, or a params repr that raises: the evaluation is recorded anyway
        return None
    return path


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


def metric_value(value: object) -> float | None:
    """``value`` as a metric's float: a real number (int, float, a numpy number, what else
    ``float()`` reads as one); None for anything else, bools and text included, which
    ``float()`` would take (``True`` as 1.0, ``'0.005'``) and hide the trainer's mistake."""
    if isinstance(value, (bool, np.bool_, str, bytes, bytearray)):
        return None
    try:
        return float(value)  # type: ignore[arg-type]
    except Exception:  # noqa: BLE001 - TypeError, ValueError, an int too large (OverflowError), a broken __float__
        return None


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
    metrics: dict[str, float] = {}
    unnamed = [f"{shown(name)} (of type {type(name).__name__})" for name, _ in pairs if not isinstance(name, str)]
    if unnamed:  # str() made 3 the metric "3", and 3 and "3" one metric
        return failed(ERROR, one_line("trainer returned metric name(s) that are not str: " + ", ".join(unnamed), 300))
    bad = []
    for name, value in pairs:
        number = metric_value(value)
        if number is None:  # named with its value: a good training is failed for it
            bad.append(f"{shown(name)}: {shown(value)} (a {type(value).__name__})")
        else:
            metrics[name] = number
    if bad:
        return failed(ERROR, one_line("trainer returned metric(s) that are not numbers (int or float): "
                                      + ", ".join(bad), 300))
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
