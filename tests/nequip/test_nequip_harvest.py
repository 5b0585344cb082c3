"""``harvest`` reads back a NequIP training that finished on disk while no driver listened,
and trains again one that did not: no ``TRAIN RUN END``, a ``metrics.csv`` short of
``max_epochs`` (unless the config may stop early), another candidate's config.

The directory is the one a real ``nequip-train`` leaves: the config the trainer renders
for the trial, the ``metrics.csv`` of a real 4-epoch training (tests/data/nequip) and the
line ``nequip-train`` logs at the end of its training in stdout.log.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from nequip_testutil import DATA
from test_nequip_trainer import TINY, a_trial, prepare

from dnnp_hpo.curve import LcurveError
from dnnp_hpo.plugins.nequip_stub.metrics import EPOCH, check_complete, read_metrics
from dnnp_hpo.plugins.nequip_stub.trainer import CONFIG, DEFAULT_METRICS
from dnnp_hpo.training import RUNTIME, STDOUT

REAL = DATA / "metrics.csv"  # 4 epochs, validated after each
END = "[2026-12-05 06:44:06,490][nequip.scripts.train][INFO] - [rank: 0] TRAIN RUN END\n"


def finished_dir(trainer, trial) -> Path:
    """The trial's directory as a finished 4-epoch nequip-train leaves it."""
    workdir = trial.workdir
    workdir.mkdir(parents=True)
    (workdir / CONFIG).write_text(trainer.render(trial))
    shutil.copy(REAL, workdir / "metrics.csv")
    (workdir / STDOUT).write_text(f"[...] TRAIN RUN START\n{END}")
    return workdir


def keep_epochs(path: Path, epochs: int) -> None:
    """Cut ``path`` after the validation row of epoch ``epochs`` (a training killed then)."""
    lines = path.read_text().splitlines(keepends=True)
    rows = [i for i, line in enumerate(lines) if i and line.split(",")[10]]
    path.write_text("".join(lines[:rows[epochs - 1] + 1]))


def test_a_finished_training_is_harvested_with_its_fitness(tmp_path: Path) -> None:
    run, trainer = prepare(tmp_path, settings={"train": "data/train.extxyz", "epochs": 4})
    trial = a_trial(run)
    workdir = finished_dir(trainer, trial)
    harvested = trainer.harvest(trial)
    assert harvested == {**trainer.read_fitness(workdir, (workdir / CONFIG).read_text()),
                         RUNTIME: harvested[RUNTIME]}
    assert harvested[RUNTIME] >= 0


def test_a_training_short_of_max_epochs_is_refused_and_trained_again(tmp_path: Path) -> None:
    run, trainer = prepare(tmp_path, settings={"train": "data/train.extxyz", "epochs": 4})
    trial = a_trial(run)
    workdir = finished_dir(trainer, trial)
    keep_epochs(workdir / "metrics.csv", 3)  # its log says it ended: the curve alone must refuse it
    curve = read_metrics(workdir / "metrics.csv", [*DEFAULT_METRICS.values(), EPOCH])
    with pytest.raises(LcurveError, match="epoch 3 is the last validated, short of max_epochs 4"):
        check_complete(curve, yaml.safe_load((workdir / CONFIG).read_text()))
    assert trainer.harvest(trial) is None


def test_a_config_that_may_stop_early_is_not_held_to_max_epochs(tmp_path: Path) -> None:
    stopper = "  callbacks:\n    - {_target_: lightning.pytorch.callbacks.EarlyStopping, monitor: x}\n"
    template = TINY.replace("  max_epochs: $epochs\n", f"  max_epochs: $epochs\n{stopper}")
    run, trainer = prepare(tmp_path, template, settings={"train": "data/train.extxyz", "epochs": 8})
    trial = a_trial(run)
    finished_dir(trainer, trial)  # stopped after 4 of 8 epochs
    assert set(trainer.harvest(trial)) == {"energy_rmse", "force_rmse", RUNTIME}


def test_no_logged_end_another_config_or_no_directory_means_train_again(tmp_path: Path) -> None:
    run, trainer = prepare(tmp_path, settings={"train": "data/train.extxyz", "epochs": 4})
    trial = a_trial(run)
    assert trainer.harvest(trial) is None and not trial.workdir.exists()
    workdir = finished_dir(trainer, trial)
    assert trainer.harvest(a_trial(run, {"r_max": 4.5, "act": "silu"})) is None  # not t0's config
    (workdir / STDOUT).write_text("[...] TRAIN RUN START\n")  # killed during fit, after the last epoch's row
    assert trainer.harvest(trial) is None
