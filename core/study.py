"""The optimizer's view of a run: turn genomes into recorded evaluations."""

from __future__ import annotations

import asyncio
import concurrent.futures
import heapq
import itertools
import math
import sys
import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from dnnp_hpo.constraints import violated
from dnnp_hpo.errors import EngineLost, TaskGivenUp, described, shown
from dnnp_hpo.evaluate import measured, metric_value, run_trial
from dnnp_hpo.evaluation import (
    INFEASIBLE,
    LOST,
    RUNTIME,
    Evaluation,
    Member,
    Trial,
    failed_evaluation,
    last_write,
    left_outcome,
)
from dnnp_hpo.hookspecs import Pool, Trainer
from dnnp_hpo.run import RunContext

BIRTHS = "core.births"
HARVESTED = "harvested from its directory on resume"


def training_seed(seed: int, birth_id: int) -> int:
    """The training seed of birth ``birth_id`` of a run with the spec's ``seed``: derived,
    not drawn from the optimizer's stream, so the search is the same whether or not a
    trainer uses its seed."""
    return int(np.random.default_rng([seed, birth_id]).integers(2**31 - 1))


class Study:
    """Implements :class:`dnnp_hpo.hookspecs.Study` over a pool and a trainer.

    On a resumed run it is given what the journal holds: births that finished are
    handed back instead of trained again, and births that were running when the driver
    died are harvested from their directory when the trainer can, else re-run.
    """

    def __init__(self, run: RunContext, trainer: Trainer, pool: Pool | None, *,
                 finished: Sequence[Evaluation] = (), running: Sequence[Trial] = ()) -> None:
        # ``finished`` in the order the journal recorded them (Journal.evaluations(recorded=True)).
        self.run = run
        self.space = run.space
        self.n_objectives = len(run.objective_names)
        self.seed = run.experiment.seed
        self.trainer = trainer
        self.pool = pool
        self.births = 0
        self.finished = {e.trial.birth_id: e for e in finished}
        #: birth -> position in the journal's recording order (``finished`` comes in it)
        self.recorded_order = {e.trial.birth_id: i for i, e in enumerate(finished)}
        self.running = {t.birth_id: t for t in running}
        #: birth -> when the interrupted run sent it (its ``sent_after``), for the births it recorded
        self.sends = {t.birth_id: t.sent_after for t in [*(e.trial for e in finished), *running]
                      if t.sent_after is not None}
        self.inflight: dict[Any, Trial] = {}  #: engine future -> trial
        self.ready: list[tuple[float, int, Evaluation]] = []  #: heap of known results
        self._sequence = itertools.count()
        self._harvest_warned = False  #: a broken harvest (it raised, or returned no metrics) has been warned of

    def trial(self, genome: Sequence[float], generation: int, birth_id: int | None = None,
              sent_after: int | None = None) -> Trial:
        """A new trial for ``genome``: fresh uuid, next birth id, its own training seed."""
        if birth_id is None:
            birth_id = self.births
            self.births += 1
        name = str(uuid.uuid4())
        seed = training_seed(self.run.experiment.seed, birth_id)
        return Trial(
            uuid=name, birth_id=birth_id, generation=generation,
            genome=tuple(float(g) for g in genome), params=self.space.decode(genome),
            seed=seed, workdir=self.run.evals_dir / name, sent_after=sent_after,
        )

    def infeasibility(self, trial: Trial) -> str | None:
        broken = violated(self.run.experiment.constraints, trial.params)
        return f"violates {'; '.join(broken)}" if broken else None

    # -- sending out and collecting, one birth at a time -------------------------------

    def submit(self, genome: Sequence[float], generation: int, birth_id: int | None = None,
               sent_after: int | None = None) -> Trial:
        """Start evaluating ``genome``; :meth:`next_finished` hands back its evaluation.

        ``birth_id`` is given only to send again a birth that was in flight when the
        driver died (a steady-state optimizer resuming): the journal's record of it is
        reused when it finished, else it is harvested or trained again.  ``sent_after`` is
        recorded with the birth (see :meth:`recorded_sent_after`).
        """
        assert self.pool is not None, "a dry run evaluates nothing"
        trial = self.trial(genome, generation, birth_id, sent_after)
        earlier = self._from_journal(trial)
        if earlier is not None:
            # Recorded before a resume: handed back in the order the journal recorded
            # it, so a steady-state search replays the interrupted run's sequence.
            self._ready(earlier, self.recorded_order.get(trial.birth_id, math.inf))
            return trial
        reason = self.infeasibility(trial)
        if reason is not None:
            now = time.time()
            evaluation = failed_evaluation(trial, self.n_objectives, INFEASIBLE, reason, now, now)
            self._finished(evaluation)
            self._ready(evaluation, math.inf)
            return trial
        self.run.hook.dnnp_hpo_evaluation_started(run=self.run, trial=trial)
        self.inflight[self.pool.submit(run_trial, self.trainer, trial, self.run.objective_names)] = trial
        return trial

    def recorded_sent_after(self, birth_id: int) -> int | None:
        """The ``sent_after`` the journal holds for ``birth_id`` from before a resume (None:
        the birth was not recorded, or sent without one)."""
        return self.sends.get(birth_id)

    @property
    def capacity(self) -> int:
        """How many evaluations the engine can run at once now (its workers)."""
        return self.pool.size if self.pool is not None else 0

    @property
    def pending(self) -> int:
        """Births submitted whose evaluation :meth:`next_finished` has not returned yet."""
        return len(self.ready) + len(self.inflight)

    def in_flight(self) -> list[Trial]:
        """The trials still pending, by birth: what a checkpoint must send again."""
        trials = [e.trial for _, _, e in self.ready] + list(self.inflight.values())
        return sorted(trials, key=lambda t: t.birth_id)

    def next_finished(self, timeout: float | None = None) -> Evaluation | None:
        """Wait for any pending birth to finish and return its evaluation (recorded);
        None if ``timeout`` seconds pass first (a caller that looks for new workers).

        Evaluations known without waiting (infeasible, or from the journal) come first.
        Among trainings that are done by the time we look, the earliest birth is taken,
        so that with one worker the order, and so the search, depends on the seed alone.
        """
        if self.ready:
            return heapq.heappop(self.ready)[2]
        assert self.inflight, "next_finished() with nothing pending"
        try:
            reported = next(iter(self.pool.as_completed(list(self.inflight), timeout=timeout)))
        except (TimeoutError, concurrent.futures.TimeoutError):  # one class from Python 3.11 on
            return None
        # The one reported done may be pending again by now: a Dask future whose result was
        # on a worker that died since goes back to pending while Dask computes it again.
        # Then it is taken all the same; its result() waits for the new one.
        done = [f for f in self.inflight if f.done()]
        future = min(done, key=lambda f: self.inflight[f].birth_id) if done else reported
        trial = self.inflight[future]
        try:
            evaluation = future.result()
        except (concurrent.futures.CancelledError, asyncio.CancelledError):
            # Nothing here cancels a future: the engine dropped every task at once (a Dask
            # client that lost its scheduler connection, even for a moment, does).  The
            # birth stays in flight, to be sent again on resume, not recorded lost.
            raise EngineLost(f"the engine cancelled evaluation {trial.birth_id} (a Dask client does when "
                             "it loses its scheduler)") from None
        except EngineLost:
            raise  # the engine, not this task: the birth stays in flight, sent again on resume
        except Exception as exc:  # noqa: BLE001 - the engine gave up on the task
            now = time.time()
            evaluation = failed_evaluation(
                trial, self.n_objectives, LOST,
                f"the engine lost the evaluation: {exc if isinstance(exc, TaskGivenUp) else described(exc)}", now, now,
                hostname="?", pid=-1,
            )
        del self.inflight[future]
        self._finished(evaluation)
        return evaluation

    def _ready(self, evaluation: Evaluation, order: float) -> None:
        heapq.heappush(self.ready, (order, next(self._sequence), evaluation))

    def evaluate(self, genomes: Sequence[Sequence[float]], generation: int) -> list[Evaluation]:
        """Evaluate in parallel; results in the order of ``genomes``."""
        assert not self.pending, "evaluate() while births are pending"
        position = {self.submit(g, generation).birth_id: i for i, g in enumerate(genomes)}
        results: dict[int, Evaluation] = {}
        while self.pending:
            evaluation = self.next_finished()
            results[position[evaluation.trial.birth_id]] = evaluation
        return [results[i] for i in range(len(genomes))]

    def _from_journal(self, trial: Trial) -> Evaluation | None:
        """The record of this birth from before a resume, if there is a usable one."""
        done = self.finished.pop(trial.birth_id, None)
        if done is not None:
            if done.trial.genome == trial.genome:
                return done
            # The resumed search bred this birth differently (a steady-state run resumed
            # on another number of workers, or --force): set the old record aside.
            self.run.hook.dnnp_hpo_evaluation_interrupted(run=self.run, trial=done.trial, rerun=trial)
            return None
        old = self.running.pop(trial.birth_id, None)
        if old is None:
            return None
        # A different genome: the resumed search bred this birth differently.
        evaluation = self._harvested(old) if old.genome == trial.genome else None
        if evaluation is None:
            self.run.hook.dnnp_hpo_evaluation_interrupted(run=self.run, trial=old, rerun=trial)
            return None
        self._finished(evaluation)
        return evaluation

    def _harvested(self, trial: Trial) -> Evaluation | None:
        """The evaluation of a trial that finished on disk while no driver listened.

        The record its worker left in its directory comes first; else the trainer's own
        ``harvest`` (the metrics it can read from the directory), if it has one.
        """
        left = left_outcome(trial)
        names = self.run.objective_names
        if left is not None and not left.ok:
            return failed_evaluation(trial, len(names), left.status, f"{left.reason}; {HARVESTED}",
                                     left.start, left.stop, hostname=left.hostname, pid=left.pid)
        if left is not None:
            # Fitness from the metrics again: the objectives may have changed (--force).
            evaluation = attrs.evolve(measured(trial, left.metrics, names, left.start, left.stop),
                                      hostname=left.hostname, pid=left.pid)
        else:
            metrics = self._harvest(trial)
            if metrics is None:
                return None
            # Its files tell when it ended, and the runtime metric (command trainers
            # always give one) how long it took; else it is dated to the resume.
            stop = last_write(trial.workdir) or time.time()
            runtime = metrics.get(RUNTIME, 0.0)
            start = stop - runtime if math.isfinite(runtime) and runtime >= 0 else stop
            evaluation = measured(trial, metrics, names, start, stop)
        # A failure keeps why it failed, and says where it came from as the outcome file's do.
        return attrs.evolve(evaluation, reason=HARVESTED if evaluation.ok else f"{evaluation.reason}; {HARVESTED}")

    def _harvest(self, trial: Trial) -> dict[str, float] | None:
        """What the trainer's ``harvest`` reads of ``trial`` as metrics by name, or None to
        train it again: it has none, returned None, raised, or returned anything but a
        mapping of names to numbers (a broken harvest is warned of; the run never stops)."""
        harvest = getattr(self.trainer, "harvest", None)
        if harvest is None:
            return None
        try:
            metrics = harvest(trial)
        except Exception as exc:  # noqa: BLE001 - a directory it cannot read: train it again, never stop
            self._warn_harvest(f"raised {described(exc)}")
            return None
        if metrics is None:
            return None
        # As measured() reads what train returns: names, and real numbers (not True, not '0.005').
        values = ({str(name): metric_value(value) for name, value in metrics.items()}
                  if isinstance(metrics, Mapping) else {"": None})
        if None in values.values():
            self._warn_harvest(f"returned {shown(metrics)}: expected a mapping of metric names to numbers, "
                               "or None")
            return None
        return values  # type: ignore[return-value]

    def _warn_harvest(self, what: str) -> None:
        """Say once per run that the trainer's ``harvest`` is broken (it raised, or returned
        what is no metrics): its trainings are run again, which is right, but its author
        would otherwise never learn it."""
        if self._harvest_warned:
            return
        self._harvest_warned = True
        print(f"hpo-run: warning: {type(self.trainer).__name__}.harvest {what}; "
              "its trainings are run again", file=sys.stderr, flush=True)

    def _finished(self, evaluation: Evaluation) -> None:
        self.run.hook.dnnp_hpo_evaluation_finished(run=self.run, evaluation=evaluation)

    def generation_finished(self, generation: int, population: Sequence[Member],
                            state: Mapping[str, Any]) -> None:
        """Report ``generation``'s survivors and the optimizer's state to the observers
        (the journal stores both in one transaction: the checkpoint a resume starts from)."""
        # The birth counter is core's part of the state: a resumed run numbers on from it.
        state = {**state, BIRTHS: self.births}
        self.run.hook.dnnp_hpo_generation_finished(
            run=self.run, generation=generation, population=list(population), state=state
        )

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue numbering births where the checkpointed generation left off."""
        self.births = int(state[BIRTHS])
