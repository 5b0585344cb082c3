"""What a resumed run does with a birth that was running when its driver died.

The Study is driven directly (as an optimizer drives it) over the run's real local Dask
launcher; the "journal" is the list of running trials a resume hands it.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs
import pluggy
from hpo_testutil import write_spec, zdt_spec

from dnnp_hpo import hookspecs
from dnnp_hpo.driver import prepare_run
from dnnp_hpo.evaluation import Trial, make_workdir
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.registry import load_registry
from dnnp_hpo.study import HARVESTED, Study


@attrs.frozen
class HarvestingTrainer:
    """Trains in a directory; ``harvest`` reads it back, or raises when told to."""

    harvest_raises: bool = False
    runtime: float | None = None  #: the runtime metric harvest reads, if any
    f1: float = 0.75  #: what harvest reads as f1

    def train(self, trial: Trial) -> dict[str, float]:
        make_workdir(trial)
        (trial.workdir / "trained").write_text("yes")
        return {"f1": 0.5, "f2": 0.25}

    def harvest(self, trial: Trial) -> dict[str, float] | None:
        if self.harvest_raises:
            raise ValueError("cannot parse its result file")
        metrics = {"f1": self.f1, "f2": 0.125}
        return metrics if self.runtime is None else {**metrics, "runtime": self.runtime}


class Interrupted:
    """Observer: the trials set aside as interrupted."""

    def __init__(self) -> None:
        self.trials: list[Trial] = []

    @hookimpl
    def dnnp_hpo_evaluation_interrupted(self, trial, rerun):
        self.trials.append(trial)


def resumed_study(tmp_path: Path, trainer: HarvestingTrainer) -> tuple[Study, Trial, Interrupted]:
    """A Study over a real local Dask pool, told that birth 0 was running in ``evals/old``."""
    run, _ = prepare_run(write_spec(tmp_path / "spec.yaml", zdt_spec(tmp_path / "run", n=2)), load_registry())
    # Only this observer listens (no progress display, no journal): what the Study tells.
    seen = Interrupted()
    observers = pluggy.PluginManager(hookspecs.PROJECT)
    observers.add_hookspecs(hookspecs)
    observers.register(seen)
    run = attrs.evolve(run, hook=observers.hook)
    old = Trial(uuid="old", birth_id=0, generation=0, genome=(0.5, 0.5), params={"x0": 0.5, "x1": 0.5},
                seed=1, workdir=run.evals_dir / "old")
    return Study(run, trainer, pool=None, running=[old]), old, seen


def test_the_trainers_harvest_is_used_when_the_worker_left_no_outcome(tmp_path: Path) -> None:
    study, old, seen = resumed_study(tmp_path, HarvestingTrainer())
    with study.run.experiment.launcher.connect(study.run) as pool:
        study.pool = pool
        study.submit(old.genome, 0)
        evaluation = study.next_finished()
    assert (evaluation.trial.uuid, evaluation.status, evaluation.reason) == ("old", "ok", HARVESTED)
    assert evaluation.fitness == (0.75, 0.125) and seen.trials == []


def test_a_harvested_failure_says_why_and_that_it_was_harvested(tmp_path: Path) -> None:
    """A harvest that reads NaN: failed, as train's NaN is, and marked harvested as a
    failure read from the worker's outcome file is (it read as trained in this session)."""
    study, old, _ = resumed_study(tmp_path, HarvestingTrainer(f1=float("nan")))
    with study.run.experiment.launcher.connect(study.run) as pool:
        study.pool = pool
        study.submit(old.genome, 0)
        evaluation = study.next_finished()
    assert evaluation.status == "failed" and evaluation.reason.endswith(f"; {HARVESTED}")
    assert "f1" in evaluation.reason


def test_a_harvested_evaluation_is_dated_by_its_files(tmp_path: Path) -> None:
    """Not by the resume: it ended when it last wrote, and began its runtime before."""
    study, old, _ = resumed_study(tmp_path, HarvestingTrainer(runtime=30.0))
    ended = 1_700_000_000.0  # 2023: long before this test
    (old.workdir / "sub").mkdir(parents=True)
    for name, written in (("input.json", ended - 31), ("sub/lcurve.out", ended)):
        (old.workdir / name).write_text("x")
        os.utime(old.workdir / name, (written, written))
    with study.run.experiment.launcher.connect(study.run) as pool:
        study.pool = pool
        study.submit(old.genome, 0)
        evaluation = study.next_finished()
    assert evaluation.reason == HARVESTED
    assert (evaluation.start, evaluation.stop) == (ended - 30.0, ended)


def test_a_harvest_that_raises_means_train_again_not_a_crash(tmp_path: Path) -> None:
    study, old, seen = resumed_study(tmp_path, HarvestingTrainer(harvest_raises=True))
    with study.run.experiment.launcher.connect(study.run) as pool:
        study.pool = pool
        study.submit(old.genome, 0)
        evaluation = study.next_finished()
    assert seen.trials == [old]  # set aside; trained again under a new uuid
    assert evaluation.trial.uuid != "old" and evaluation.ok and evaluation.fitness == (0.5, 0.25)
    assert (evaluation.trial.workdir / "trained").read_text() == "yes"
