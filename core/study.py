"""The optimizer's view of a run: turn genomes into recorded evaluations."""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import numpy as np

from dnnp_hpo.evaluate import measured, run_trial
from dnnp_hpo.evaluation import INFEASIBLE, LOST, Evaluation, Member, Trial, failed_evaluation
from dnnp_hpo.hookspecs import Pool, Trainer
from dnnp_hpo.run import RunContext

BIRTHS = "core.births"


class Study:
    """Implements :class:`dnnp_hpo.hookspecs.Study` over a pool and a trainer.

    On a resumed run it is given what the journal holds: births that finished are
    handed back instead of trained again, and births that were running when the driver
    died are harvested from their directory when the trainer can, else re-run.
    """

    def __init__(self, run: RunContext, trainer: Trainer, pool: Pool | None, *,
                 finished: Sequence[Evaluation] = (), running: Sequence[Trial] = ()) -> None:
        self.run = run
        self.space = run.space
        self.n_objectives = len(run.objective_names)
        self.seed = run.experiment.seed
        self.trainer = trainer
        self.pool = pool
        self.births = 0
        self.finished = {e.trial.birth_id: e for e in finished}
        self.running = {t.birth_id: t for t in running}

    def trial(self, genome: Sequence[float], generation: int) -> Trial:
        """A new trial for ``genome``: fresh uuid, next birth id, its own training seed."""
        birth_id = self.births
        self.births += 1
        name = str(uuid.uuid4())
        # Derived, not drawn from the optimizer's stream: the search is the same
        # whether or not a trainer uses its seed.
        seed = int(np.random.default_rng([self.run.experiment.seed, birth_id]).integers(2**31 - 1))
        return Trial(
            uuid=name, birth_id=birth_id, generation=generation,
            genome=tuple(float(g) for g in genome), params=self.space.decode(genome),
            seed=seed, workdir=self.run.evals_dir / name,
        )

    def infeasibility(self, trial: Trial) -> str | None:
        broken = [c.text for c in self.run.experiment.constraints if not c.holds(trial.params)]
        return f"violates {'; '.join(broken)}" if broken else None

    def evaluate(self, genomes: Sequence[Sequence[float]], generation: int) -> list[Evaluation]:
        """Evaluate in parallel; results in the order of ``genomes``."""
        assert self.pool is not None, "a dry run evaluates nothing"
        results: dict[int, Evaluation] = {}
        futures = {}
        trials = [self.trial(g, generation) for g in genomes]
        for i, trial in enumerate(trials):
            earlier = self._from_journal(trial)
            if earlier is not None:
                results[i] = earlier
                continue
            reason = self.infeasibility(trial)
            if reason is not None:
                now = time.time()
                results[i] = failed_evaluation(trial, self.n_objectives, INFEASIBLE, reason, now, now)
                self._finished(results[i])
                continue
            self.run.hook.dnnp_hpo_evaluation_started(run=self.run, trial=trial)
            futures[self.pool.submit(run_trial, self.trainer, trial, self.run.objective_names)] = i
        for future in self.pool.as_completed(list(futures)):
            i = futures[future]
            try:
                results[i] = future.result()
            except Exception as exc:  # noqa: BLE001 - the engine gave up on the task
                now = time.time()
                results[i] = failed_evaluation(
                    trials[i], self.n_objectives, LOST,
                    f"the engine lost the evaluation: {type(exc).__name__}: {exc}", now, now,
                    hostname="?", pid=-1,
                )
            self._finished(results[i])
        return [results[i] for i in range(len(trials))]

    def _from_journal(self, trial: Trial) -> Evaluation | None:
        """The record of this birth from before a resume, if there is a usable one."""
        done = self.finished.pop(trial.birth_id, None)
        if done is not None and done.trial.genome == trial.genome:
            return done
        old = self.running.pop(trial.birth_id, None)
        if old is None or old.genome != trial.genome:
            return None
        harvest = getattr(self.trainer, "harvest", None)
        metrics = harvest(old) if harvest is not None else None
        if metrics is None:
            self.run.hook.dnnp_hpo_evaluation_interrupted(run=self.run, trial=old, rerun=trial)
            return None
        now = time.time()
        evaluation = measured(old, metrics, self.run.objective_names, now, now)
        if evaluation.ok:
            evaluation = attrs.evolve(evaluation, reason="harvested from its directory on resume")
        self._finished(evaluation)
        return evaluation

    def _finished(self, evaluation: Evaluation) -> None:
        self.run.hook.dnnp_hpo_evaluation_finished(run=self.run, evaluation=evaluation)

    def generation_finished(self, generation: int, population: Sequence[Member],
                            state: Mapping[str, Any]) -> None:
        # The birth counter is core's part of the state: a resumed run numbers on from it.
        state = {**state, BIRTHS: self.births}
        self.run.hook.dnnp_hpo_generation_finished(
            run=self.run, generation=generation, population=list(population), state=state
        )

    def restore(self, state: Mapping[str, Any]) -> None:
        """Continue numbering births where the checkpointed generation left off."""
        self.births = int(state[BIRTHS])
