"""Harvesting a DeePMD training that finished on disk while no driver listened.

A run resumed after its driver died asks the trainer for the metrics of each training
that was running and whose worker left no outcome (core/study.py ``_harvested``): the
``deepmd`` trainer reads them back from the directory (:meth:`PreparedCommand.harvest`)
when its input is the trial's, ``dp`` logged the end of the training and lcurve.out is
complete; otherwise the candidate is trained again.  The tests read copies (file times
kept) of the directory of the session's one real ``dp --tf train`` through the plugin
(conftest.py's ``small_sel_training``, which test_deepmd_trainer.py checks as a training).
"""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import time
from pathlib import Path

import attrs
import pytest
import yaml
from cli_testutil import kill_driver_when
from dask_testutil import start_cluster
from deepmd_testutil import QUICKSTART, QUICKSTART_PARAMS, VENV_BIN, write_spec

from dnnp_hpo.evaluation import OUTCOME
from dnnp_hpo.journal import Journal
from dnnp_hpo.plugins.deepmd.trainer import INPUT
from dnnp_hpo.study import HARVESTED
from dnnp_hpo.training import RUNTIME, STDERR

#: the parameters the shared training was given
PARAMS = QUICKSTART_PARAMS


@pytest.fixture
def copy(small_sel_training, tmp_path):
    """A copy of the trained directory (a real 60-step dp training, a row every 20), file
    times kept: (trainer, its trial, train()'s metrics)."""
    trainer, trial, metrics = small_sel_training
    workdir = tmp_path / "evals" / trial.uuid
    shutil.copytree(trial.workdir, workdir, symlinks=True)  # copy2: modification times kept
    return trainer, attrs.evolve(trial, workdir=workdir), metrics


def test_a_finished_training_is_harvested_with_the_metrics_it_wrote(copy) -> None:
    trainer, trial, trained = copy
    harvested = trainer.harvest(trial)
    read = trainer.read_fitness(trial.workdir, (trial.workdir / INPUT).read_text())
    assert harvested == {**read, RUNTIME: harvested[RUNTIME]}
    assert {k: v for k, v in harvested.items() if k != RUNTIME} == {k: v for k, v in trained.items() if k != RUNTIME}
    # From the file times: input.json to the newest file dp wrote (its exit is not seen).
    assert 0 < harvested[RUNTIME] <= trained[RUNTIME] and harvested[RUNTIME] > trained[RUNTIME] - 2
    assert sorted(p.name for p in trial.workdir.parent.iterdir()) == [trial.uuid]  # nothing made or moved


def cut_lcurve(workdir: Path, rows: int) -> None:
    """Keep the header and the first ``rows`` data rows: dp killed before the rest."""
    lines = (workdir / "lcurve.out").read_text().splitlines(keepends=True)
    data = [i for i, line in enumerate(lines) if not line.startswith("#")]
    (workdir / "lcurve.out").write_text("".join(lines[:data[rows - 1] + 1]))


def test_a_curve_cut_short_is_trained_again(copy) -> None:
    trainer, trial, _ = copy
    cut_lcurve(trial.workdir, 3)  # steps 0, 20, 40 of 60
    assert trainer.harvest(trial) is None


def test_a_training_whose_output_shows_no_clean_end_is_trained_again(copy) -> None:
    trainer, trial, _ = copy
    stderr = trial.workdir / STDERR
    text = stderr.read_text()
    assert "finished training" in text
    # Killed after the last lcurve row, before the model was saved: dp logged no end.
    stderr.write_text(text[:text.index("finished training")])
    assert trainer.harvest(trial) is None
    # Logged the end, then crashed on the way out.
    stderr.write_text(text + "Traceback (most recent call last):\n  ...\nKeyboardInterrupt\n")
    assert trainer.harvest(trial) is None


def test_a_trainer_that_names_no_end_line_never_harvests(copy) -> None:
    """Harvest is opt-in: with no FINISHED line named, a complete directory is trained again
    (silence proves nothing: a training SIGKILLed half-way leaves no traceback either)."""
    trainer, trial, _ = copy

    class Silent(type(trainer)):
        FINISHED = ()

    silent = Silent(**attrs.asdict(trainer, recurse=False))
    assert trainer.harvest(trial) is not None
    assert silent.harvest(trial) is None


def test_another_trials_input_or_no_directory_is_trained_again(copy) -> None:
    trainer, trial, _ = copy
    assert trainer.harvest(attrs.evolve(trial, seed=trial.seed + 1)) is None
    assert trainer.harvest(attrs.evolve(trial, params={**PARAMS, "rcut": 5.5})) is None
    missing = attrs.evolve(trial, workdir=trial.workdir.with_name("never-started"))
    assert trainer.harvest(missing) is None
    assert not missing.workdir.exists()  # looked for, not created
    (trial.workdir / INPUT).unlink()
    assert trainer.harvest(trial) is None


@pytest.mark.slow
def test_trainings_that_finished_after_the_driver_died_are_harvested_not_trained_again(
        tmp_path: Path, make_demo_data, wait_until) -> None:
    """The real hpo-run with the deepmd trainer and real dp, SIGKILLed while both trainings
    of its generation run; the trainings finish on workers that outlive it.  Their outcome
    files are then deleted, as if the workers had died before writing them (a training
    that ends in its grace after its worker was killed leaves none): the resumed run must
    read the trainings from their directories, not run dp again."""
    data = make_demo_data(80, 3)
    env = {**os.environ, "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}", "COLUMNS": "250"}
    scheduler_file, cluster = start_cluster(tmp_path, 2, env)
    spec = yaml.safe_load(QUICKSTART.read_text())
    run_dir = tmp_path / "run"
    spec["run_dir"] = str(run_dir)
    spec["trainer"].update(template=str(QUICKSTART.parent / spec["trainer"]["template"]), check_input=False)
    spec["trainer"]["settings"].update(train_systems=str(data / "train"), valid_systems=str(data / "valid"),
                                       numb_steps=60, disp_freq=20, decay_steps=20)
    spec["optimizer"].update(pop_size=2, generations=0)
    spec["launcher"] = {"plugin": "dask", "scheduler_file": str(scheduler_file), "min_workers": 2,
                        "wait_timeout": 120}
    hpo_run = [str(VENV_BIN / "hpo-run"), str(write_spec(tmp_path / "spec.yaml", spec))]

    def started() -> list[Path]:
        return sorted(d for d in (run_dir / "evals").glob("*") if (d / INPUT).exists())

    try:
        kill_driver_when(hpo_run, tmp_path, env, lambda: len(started()) == 2, wait_until)
        running = started()
        assert not any("finished training" in (d / STDERR).read_text() for d in running), "killed too late"
        # The workers outlive the driver: dp finishes, the worker leaves its outcome.
        assert wait_until(lambda: all((d / OUTCOME).exists() for d in running), 120)
        for directory in running:
            (directory / OUTCOME).unlink()
        began = time.time()
        resumed = subprocess.run(hpo_run, cwd=tmp_path, env=env, check=False, capture_output=True, text=True,
                                 timeout=300)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    finally:
        for process in cluster:
            process.kill()
            process.wait()

    with Journal.of(run_dir, readonly=True) as journal:
        evaluations = journal.evaluations()
    assert sorted(e.trial.uuid for e in evaluations) == sorted(d.name for d in running)
    for evaluation in evaluations:
        workdir = evaluation.trial.workdir
        assert (evaluation.status, evaluation.reason) == ("ok", HARVESTED)
        assert all(math.isfinite(v) for v in evaluation.fitness)
        assert 0 < evaluation.metrics[RUNTIME] < 120
        # dp did not run again: no new directory, and the curve is the one left before the resume
        assert (workdir / "lcurve.out").stat().st_mtime < began
    assert started() == running
