"""The records of one candidate: what is sent to a worker and what comes back."""

from __future__ import annotations

import json
import math
import os
import re
import socket
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from dnnp_hpo.errors import TrainingFailed

RUNTIME = "runtime"  #: wall seconds of the training command, always returned as a metric

#: Fitness of every objective for a failed or infeasible candidate (paper, 2.2.4): a
#: number, unlike NaN, so that non-dominated sorting stays well defined.
MAXINT = float(np.iinfo(np.int32).max)

OK = "ok"
FAILED = "failed"  # the training ran and did not give a usable result
TIMEOUT = "timeout"  # killed at the trainer's time limit
ERROR = "error"  # an unexpected exception in the trainer (a bug or the environment)
INFEASIBLE = "infeasible"  # violates a constraint: never sent to a trainer
LOST = "lost"  # the worker running it died and the engine gave up on the task
STATUSES = (OK, FAILED, TIMEOUT, ERROR, INFEASIBLE, LOST)


@attrs.frozen
class Trial:
    """One candidate as a worker receives it."""

    uuid: str
    birth_id: int
    generation: int
    genome: tuple[float, ...]
    params: dict[str, Any]
    seed: int  #: a training seed of its own, recorded so the training can be repeated
    workdir: Path  #: RUN_DIR/evals/<uuid>; created by the trainer only if it needs one
    #: a steady-state optimizer's count of results taken back when it sent this birth, so
    #: that a resume sends the birth at the same point (None: not given)
    sent_after: int | None = None


@attrs.frozen
class Evaluation:
    """One evaluation, exactly as recorded: one row of individuals.csv."""

    trial: Trial
    status: str
    reason: str
    fitness: tuple[float, ...]  #: one value per objective, MAXINT unless status is ok
    metrics: dict[str, float]  #: everything the trainer measured, by name
    start: float  #: Unix seconds
    stop: float
    hostname: str
    pid: int

    @property
    def ok(self) -> bool:
        return self.status == OK


@attrs.frozen
class Member:
    """A survivor of selection: an evaluation with its NSGA-II rank and crowding distance."""

    evaluation: Evaluation
    rank: int
    distance: float


def failed_evaluation(
    trial: Trial,
    n_objectives: int,
    status: str,
    reason: str,
    start: float,
    stop: float,
    *,
    hostname: str | None = None,
    pid: int | None = None,
) -> Evaluation:
    """An evaluation with the failure policy applied: MAXINT for every objective."""
    return Evaluation(
        trial=trial,
        status=status,
        reason=one_line(reason),
        fitness=(MAXINT,) * n_objectives,
        metrics={},
        start=start,
        stop=stop,
        hostname=hostname or socket.gethostname(),
        pid=os.getpid() if pid is None else pid,
    )


#: a UUID (an evaluation's directory, an engine's task key: Dask's ``run_trial-<uuid>``)
_UUID = re.compile(r"[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}")
#: a worker's or a scheduler's address (``tcp://10.1.2.3:41233``): an engine's schemes with
#: a port, not any URL (a data file's https://... must stay to tell one failure from another)
_ADDRESS = re.compile(r"\b(?:tcp|tls|ucx|inproc|ws|wss)://[^\s,;)'\"/]+:[0-9]+")


def shared_reason(evaluation: Evaluation) -> str:
    """Its reason with what names this one evaluation folded: UUIDs (its directory, the
    engine's task key) as ``<uuid>`` and addresses (the worker that died) as
    ``<address>``.  The same failure then reads the same in every evaluation, so that
    failures can be counted by reason: four evaluations lost with their workers were four
    reasons of one each, and "1 of 4 lost"."""
    own = evaluation.reason.replace(evaluation.trial.uuid, "<uuid>")
    return _ADDRESS.sub("<address>", _UUID.sub("<uuid>", own))


#: a number in a reason (a step, a loss, a value returned): failures alike but for these are counted together
_NUMBER = re.compile(r"\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")


def alike(reason: str) -> str:
    """``reason`` with each number as ``#``: reasons alike but for their numbers (diverged
    at step 700, at step 702) have one."""
    return _NUMBER.sub("#", reason)


def failure_summary(evaluations: Sequence[Evaluation]) -> str:
    """The commonest status and reason among failed ``evaluations``, with its count
    (``8 of 8 failed: data path(s) not found: ...``): what a user needs to see when
    nothing succeeds, as a typo in a path fails every training alike.  When the failures
    differ, how many failed comes first (``6 of 6 infeasible; 2 of them: ...``): "1 of 6
    error: ..." read as if the other five had not failed; and where their statuses differ,
    each status's count (``6 of 6 failed (4 timeout, 2 error); 4 of them timeout: ...``).  Reasons that differ only in
    their numbers (diverged at step 700, at step 702) count as one, shown by the first."""
    groups: dict[str, list[str]] = {}
    for e in evaluations:
        if not e.ok:
            reason = f"{e.status}: {shared_reason(e)}"
            groups.setdefault(alike(reason), []).append(reason)
    if not groups:
        return "none failed"
    # the largest group; ties: the first met, so the same evaluations say the same
    group = max(groups.values(), key=len)
    count, failed = len(group), sum(len(g) for g in groups.values())
    reason = group[0] + (f" (the first of {count} alike but for their numbers)" if len(set(group)) > 1 else "")
    if count == failed:
        return f"{count} of {len(evaluations)} {reason}"
    # Each status counted where they differ: the commonest "failed: ... exited with status 3"
    # hid two "error" (a plugin's bug) beside it (a plugin author's walk).
    statuses = Counter(e.status for e in evaluations if not e.ok)
    if len(statuses) == 1:
        # One status, said once: "4 of 4 failed; 2 of them infeasible: violates x0 < 0.3"
        # read as if 2 were infeasible, where all 4 were (helper-110).
        (status,) = statuses
        return f"{failed} of {len(evaluations)} {status}; {count} of them: {reason.removeprefix(f'{status}: ')}"
    by_status = ", ".join(f"{n} {status}" for status, n in statuses.most_common())
    return f"{failed} of {len(evaluations)} failed ({by_status}); {count} of them {reason}"


#: a terminal's colour or cursor sequence (ESC [ ... letter), as programs log them
_ESCAPE_SEQUENCE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def one_line(text: str, limit: int = 300) -> str:
    """Reasons are single lines in CSV and on the terminal, of printable characters: a NUL
    or a colour code from a trainer's stderr would reach the journal, the CSV files and
    summary.md (which grep then calls binary)."""
    text = _ESCAPE_SEQUENCE.sub("", str(text))
    flat = " ".join("".join(c if c.isprintable() else " " for c in text).split())
    return flat if len(flat) <= limit else flat[: limit - 3] + "..."


def make_workdir(trial: Trial) -> Path:
    """Create the trial's own directory, fresh.

    The engine may run a trial again when its worker died (Dask and Parsl retries): the
    dead attempt's directory is kept beside it as ``<uuid>.attempt-N`` for inspection,
    and the new attempt starts in an empty one.  TrainingFailed (status ``error``) if the
    directory cannot be made.
    """
    try:
        trial.workdir.parent.mkdir(parents=True, exist_ok=True)
        if trial.workdir.exists():
            attempt = 1
            while trial.workdir.with_name(f"{trial.workdir.name}.attempt-{attempt}").exists():
                attempt += 1
            trial.workdir.rename(trial.workdir.with_name(f"{trial.workdir.name}.attempt-{attempt}"))
        trial.workdir.mkdir()
    except OSError as exc:  # a read-only or full file system: this evaluation fails, the run goes on
        raise TrainingFailed(f"cannot create the evaluation directory {trial.workdir}: {exc.strerror or exc}",
                             status=ERROR) from None
    return trial.workdir


def last_write(directory: Path, since: float = -math.inf) -> float | None:
    """The newest modification time of the files under ``directory`` (not before
    ``since``); None if it holds none.  A training's files tell when it ended, where no
    driver timed it (a harvest on resume)."""
    newest = since
    for root, _, files in os.walk(directory):
        for name in files:
            try:  # lstat: a checkpoint's symlink is the training's, its target may not be
                newest = max(newest, os.lstat(os.path.join(root, name)).st_mtime)
            except OSError:
                continue
    return None if newest == -math.inf else newest


#: The worker's copy of a finished evaluation, left in its directory: a run resumed after
#: its driver died records it from there instead of training again (the training may have
#: finished on a worker that outlived the driver, or just before the driver died).
OUTCOME = "dnnp-hpo-evaluation.json"
_OUTCOME_FIELDS = ("status", "reason", "fitness", "metrics", "start", "stop", "hostname", "pid")


def leave_outcome(evaluation: Evaluation) -> None:
    """Write the outcome of ``evaluation`` into its directory, if it has one (best effort:
    a read-only or full disk costs only the chance to harvest it)."""
    workdir = evaluation.trial.workdir
    if not workdir.is_dir():
        return  # a trainer that needs no directory (the function trainer)
    partial = workdir / f"{OUTCOME}.part"
    try:
        partial.write_text(json.dumps({k: getattr(evaluation, k) for k in _OUTCOME_FIELDS}), encoding="utf-8")
        os.replace(partial, workdir / OUTCOME)  # a reader never sees half a file
    except OSError:
        pass


def left_outcome(trial: Trial) -> Evaluation | None:
    """The evaluation a worker left in ``trial``'s directory, or None (none, or unreadable)."""
    try:
        data = json.loads((trial.workdir / OUTCOME).read_text(encoding="utf-8"))
        outcome = Evaluation(
            trial=trial, status=str(data["status"]), reason=str(data["reason"]),
            fitness=tuple(float(v) for v in data["fitness"]),
            metrics={str(k): float(v) for k, v in data["metrics"].items()},
            start=float(data["start"]), stop=float(data["stop"]),
            hostname=str(data["hostname"]), pid=int(data["pid"]),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    return outcome if outcome.status in STATUSES else None
