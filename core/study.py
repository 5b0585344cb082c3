"""The optimizer's view of a run: turn genomes into recorded evaluations."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence

import numpy as np

from dnnp_hpo.evaluate import run_trial
from dnnp_hpo.evaluation import INFEASIBLE, LOST, Evaluation, Member, Trial, failed_evaluation
from dnnp_hpo.hookspecs import Pool, Trainer
from dnnp_hpo.run import RunContext


class Study:
    """Implements :class:`dnnp_hpo.hookspecs.Study` over a pool and a trainer."""

    def __init__(self, run: RunContext, trainer: Trainer, pool: Pool | None) -> None:
        self.run = run
        self.space = run.space
        self.n_objectives = len(run.objective_names)
        self.seed = run.experiment.seed
        self.trainer = trainer
        self.pool = pool
        self.births = 0

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
        trials = [self.trial(g, generation) for g in genomes]
        results: dict[int, Evaluation] = {}
        futures = {}
        for i, trial in enumerate(trials):
            reason = self.infeasibility(trial)
            if reason is not None:
                now = time.time()
                results[i] = failed_evaluation(trial, self.n_objectives, INFEASIBLE, reason, now, now)
                self._finished(results[i])
            else:
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

    def _finished(self, evaluation: Evaluation) -> None:
        self.run.hook.dnnp_hpo_evaluation_finished(run=self.run, evaluation=evaluation)

    def generation_finished(self, generation: int, population: Sequence[Member]) -> None:
        self.run.hook.dnnp_hpo_generation_finished(
            run=self.run, generation=generation, population=list(population)
        )
