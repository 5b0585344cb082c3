"""A trainer's ``harvest`` that raises on resume: its trainings are run again (never a crash),
and the plugin's author is told, once per run, that the harvest is broken (it was silent)."""

from __future__ import annotations

from pathlib import Path

import attrs
from test_study_harvest import HarvestingTrainer, resumed_study

from dnnp_hpo.study import Study


def test_a_harvest_that_raises_is_warned_once_and_its_trainings_run_again(tmp_path: Path, capsys) -> None:
    study, old, seen = resumed_study(tmp_path, HarvestingTrainer(harvest_raises=True))
    other = attrs.evolve(old, uuid="other", birth_id=1, genome=(0.25, 0.75), params={"x0": 0.25, "x1": 0.75},
                         workdir=study.run.evals_dir / "other")
    study = Study(study.run, study.trainer, pool=None, running=[old, other])
    with study.run.experiment.launcher.connect(study.run) as pool:
        study.pool = pool
        study.submit(old.genome, 0)
        study.submit(other.genome, 0)
        evaluations = [study.next_finished(), study.next_finished()]
    assert seen.trials == [old, other]  # both set aside, both trained again
    assert all(e.ok and e.trial.uuid not in ("old", "other") for e in evaluations)
    warnings = [line for line in capsys.readouterr().err.splitlines() if "harvest" in line]
    assert warnings == [("hpo-run: warning: HarvestingTrainer.harvest raised ValueError: cannot parse its "
                        "result file; its trainings are run again")]

