"""Trainer plugin ``toy``: runs the toy code in each candidate's directory.

The smallest complete trainer: settings checked at start-up, the input rendered, the
command run through dnnp-hpo's run_command, the failure policy (TrainingFailed), the
metrics read by column name.  docs/writing-a-trainer-plugin.md shows it.
"""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Mapping

import attrs

from dnnp_hpo.errors import SpecError, TrainingFailed
from dnnp_hpo.evaluation import TIMEOUT, Trial, make_workdir
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.process import run_command
from dnnp_hpo.run import RunContext

METRICS = ("energy_rmse", "force_rmse")


@attrs.frozen
class ToyTrainer:
    """The keys of ``trainer: {plugin: toy, ...}``."""

    diverge_above: float = 1.0  #: candidates with x0 above this fail
    timeout_minutes: float = 1.0

    def prepare(self, run: RunContext) -> ToyTrainer:
        for objective in run.objective_names:
            if objective not in METRICS:
                raise SpecError(f"objective {objective!r} is not a metric of the toy code "
                                f"(it measures: {', '.join(METRICS)})")  # no key: objectives is not the block's
        return self

    def render(self, trial: Trial) -> str:
        return json.dumps({"params": trial.params, "seed": trial.seed, "diverge_above": self.diverge_above})

    def train(self, trial: Trial) -> Mapping[str, float]:
        workdir = make_workdir(trial)
        (workdir / "input.json").write_text(self.render(trial), encoding="utf-8")
        done = run_command([sys.executable, "-m", "toy_trainer_hpo.code", "input.json"], workdir,
                           stdout=workdir / "stdout.log", stderr=workdir / "stderr.log",
                           timeout=self.timeout_minutes * 60)
        if done.timed_out:
            raise TrainingFailed(f"killed at the time limit of {self.timeout_minutes:g} min", status=TIMEOUT)
        if done.returncode != 0:
            why = (workdir / "stderr.log").read_text(encoding="utf-8").strip().splitlines()[-1:]
            raise TrainingFailed(f"toy code exited with status {done.returncode}: {' '.join(why)}")
        with open(workdir / "metrics.csv", newline="", encoding="utf-8") as handle:
            last = list(csv.DictReader(handle))[-1]
        return {**{name: float(last[name]) for name in METRICS}, "runtime": done.elapsed}


@hookimpl
def dnnp_hpo_trainers() -> dict[str, type]:
    return {"toy": ToyTrainer}
