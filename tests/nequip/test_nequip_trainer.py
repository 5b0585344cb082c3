"""The ``nequip`` trainer: start-up checks, the rendered config, failures before training."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from nequip_testutil import DEMO_SPEC, demo_overrides, hpo_run, nequip_spec, write_spec

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.errors import SpecError, TrainingFailed
from dnnp_hpo.evaluation import Trial
from dnnp_hpo.plugins.nequip_stub.template import INTERPOLATION_HINT
from dnnp_hpo.plugins.nequip_stub.trainer import PreparedNequip
from dnnp_hpo.registry import load_registry

TINY = """run: [train]
seed: $seed
data: {_target_: nequip.data.datamodule.ASEDataModule, file: "${train}"}
trainer:
  max_epochs: $epochs
  logger: {_target_: lightning.pytorch.loggers.CSVLogger, save_dir: "$${hydra:runtime.output_dir}"}
training_module:
  model: {r_max: $r_max, nonlinearity: "${act}"}
"""


def prepare(tmp_path: Path, template: str = TINY, overrides=(), **trainer):
    """Write the template and a spec next to it; return (run, prepared trainer)."""
    (tmp_path / "data").mkdir(exist_ok=True)
    (tmp_path / "data" / "train.extxyz").write_text("")
    (tmp_path / "tmpl.yaml").write_text(template)
    trainer.setdefault("settings", {"train": "data/train.extxyz", "epochs": 2})
    trainer.setdefault("paths", ["train"])
    spec = write_spec(tmp_path / "spec.yaml", nequip_spec(tmp_path / "run", "tmpl.yaml", **trainer))
    return prepare_run(spec, load_registry(), overrides)


def a_trial(run, params=None, name: str = "t0") -> Trial:
    params = params or {"r_max": 4.0, "act": "silu"}
    return Trial(uuid=name, birth_id=0, generation=0, genome=(0.5,) * len(params), params=params,
                 seed=42, workdir=run.evals_dir / name)


def test_prepare_renders_paths_absolute_and_the_seed(tmp_path: Path) -> None:
    run, trainer = prepare(tmp_path, command="nequip-train -cn config.yaml")
    assert isinstance(trainer, PreparedNequip)
    config = yaml.safe_load(trainer.render(a_trial(run)))
    assert config["data"]["file"] == str(tmp_path / "data" / "train.extxyz")
    assert config["seed"] == 42 and config["trainer"]["max_epochs"] == 2
    assert config["training_module"]["model"] == {"r_max": 4.0, "nonlinearity": "silu"}
    assert config["trainer"]["logger"]["save_dir"] == "${hydra:runtime.output_dir}"
    assert trainer.command == ("nequip-train", "-cn", "config.yaml")


@pytest.mark.parametrize(("trainer", "key", "message"), [
    ({"paths": ["nope"]}, "trainer.paths", "'nope' is not a key of settings"),
    ({"settings": {"train": "data/train.extxyz", "epochs": 2, "seed": 1}}, "trainer.settings.seed",
     "filled in by dnnp-hpo"),
    ({"metrics": {"energy_rmse": "val0_epoch/per_atom_energy_rmse"}}, "trainer.metrics",
     "objective 'force_rmse' is not a metric"),
    ({"metrics_file": "/abs/metrics.csv"}, "trainer.metrics_file", "expected a file's path inside"),
    ({"metrics_file": ""}, "trainer.metrics_file", "expected a file's path inside the evaluation directory, got ''"),
    ({"metrics_file": "./"}, "trainer.metrics_file", "expected a file's path inside"),
    ({"timeout_minutes": -1}, "trainer.timeout_minutes", "expected a positive number"),
    ({"overrides": ["trainer.template=missing.yaml"]}, "trainer.template", "missing.yaml not found"),
])
def test_bad_trainer_settings_are_spec_errors(tmp_path: Path, trainer, key, message) -> None:
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, **trainer)
    assert info.value.key == key and message in info.value.message


def test_an_unescaped_interpolation_is_reported_with_the_hint(tmp_path: Path) -> None:
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, TINY + "x: ${model_type_names}\n")
    assert "placeholder(s) with no value: $model_type_names" in info.value.message
    assert info.value.message.endswith(INTERPOLATION_HINT)


def test_a_choice_that_breaks_the_config_stops_the_run_at_start_up(tmp_path: Path) -> None:
    # every choice is rendered at start-up: "val" makes a run list without train
    template = TINY.replace("run: [train]", "run: [$mode]")
    space = {"r_max": {"type": "float", "init": [3.0, 5.0], "sigma": 0.1},
             "act": {"type": "choice", "choices": ["silu"], "sigma": 0.5},
             "mode": {"type": "choice", "choices": ["train", "val"], "sigma": 0.5}}
    with pytest.raises(SpecError, match=r"run: expected a list with train in it, got \['val'\]"):
        prepare(tmp_path, template, space=space)


def test_hpo_run_reports_a_template_mistake_in_one_line(tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    prepare(tmp_path)  # writes the files; the spec is valid
    (tmp_path / "tmpl.yaml").write_text(TINY.replace("CSVLogger", "TensorBoardLogger"))
    done = hpo_run(str(spec), "--dry-run")
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert "trainer.template" in done.stderr and "expected a lightning.pytorch.loggers.CSVLogger" in done.stderr


def test_the_demo_spec_dry_run_prints_the_rendered_config(tmp_path: Path, nequip_demo_data: Path) -> None:
    args = [f"--set={s}" for s in demo_overrides(tmp_path / "run", nequip_demo_data)]
    done = hpo_run(str(DEMO_SPEC), "--dry-run", *args)
    assert done.returncode == 0, done.stderr
    assert f'train_file_path: "{nequip_demo_data / "train.extxyz"}"' in done.stdout
    assert "r_max: ${cutoff_radius}" in done.stdout and "$$" not in done.stdout.split("run: [train]")[1]
    assert not (tmp_path / "run").exists()


def test_missing_data_fails_the_training_not_the_run(tmp_path: Path) -> None:
    run, trainer = prepare(tmp_path)
    (tmp_path / "data" / "train.extxyz").unlink()
    trial = a_trial(run)
    with pytest.raises(TrainingFailed) as info:
        trainer.train(trial)
    assert info.value.status == "failed" and "data path(s) not found" in info.value.reason
    assert (trial.workdir / "config.yaml").is_file()  # what it would have trained is kept


def test_a_command_that_cannot_start_fails_the_training(tmp_path: Path) -> None:
    run, trainer = prepare(tmp_path, command=["no-such-nequip-train", "-cn", "config.yaml"])
    with pytest.raises(TrainingFailed, match="cannot start 'no-such-nequip-train'"):
        trainer.train(a_trial(run))


@pytest.mark.parametrize(("every", "words"), [
    (2, "the last validated epoch would be 2, not the trained model"),
    (5, "no epoch would be validated"),
])
def test_an_unvalidated_last_epoch_stops_the_run_at_start_up(tmp_path: Path, every: int, words: str) -> None:
    """Lightning validates every check_val_every_n_epoch epochs: with 3 epochs and 2, the
    fitness would be epoch 2's model while epoch 3 trains unseen (a NequIP review found it)."""
    template = TINY.replace("max_epochs: $epochs", f"max_epochs: $epochs\n  check_val_every_n_epoch: {every}")
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template, settings={"train": "data/train.extxyz", "epochs": 3})
    assert f"check_val_every_n_epoch {every} does not divide trainer.max_epochs 3" in info.value.message
    assert words in info.value.message


@pytest.mark.parametrize(("epochs", "extra", "words"), [
    (0, "", "trainer.max_epochs must be a whole number of at least 1 (or -1 with max_steps or max_time), got 0"),
    (-1, "", "got -1"),  # Lightning would train until the time limit killed it
    ("many", "", "got 'many'"),
    (True, "", "got True"),
    (2, "\n  check_val_every_n_epoch: 0", "trainer.check_val_every_n_epoch must be a whole number of at least 1"),
])
def test_epochs_that_fail_every_training_stop_the_run_at_start_up(tmp_path: Path, epochs, extra, words) -> None:
    template = TINY.replace("max_epochs: $epochs", f"max_epochs: $epochs{extra}")
    with pytest.raises(SpecError) as info:
        prepare(tmp_path, template, settings={"train": "data/train.extxyz", "epochs": epochs})
    assert info.value.key == "trainer.template" and words in info.value.message, info.value.message


def test_endless_epochs_with_a_step_limit_are_accepted(tmp_path: Path) -> None:
    template = TINY.replace("max_epochs: $epochs", "max_epochs: $epochs\n  max_steps: 40\n"
                            "  check_val_every_n_epoch: null")  # null: validate by steps
    prepare(tmp_path, template, settings={"train": "data/train.extxyz", "epochs": -1})
    # max_steps -1 is Lightning's "no limit" too: endless
    template = TINY.replace("max_epochs: $epochs", "max_epochs: $epochs\n  max_steps: -1")
    with pytest.raises(SpecError, match="or -1 with max_steps or max_time"):
        prepare(tmp_path, template, settings={"train": "data/train.extxyz", "epochs": -1})


def test_a_recorded_metric_on_other_rows_does_not_fail_the_training(tmp_path: Path) -> None:
    """The prepared trainer knows the run's objectives: a train_... metric beside them, and
    one whose column the file lacks, are only recorded (helper-75: both failed every
    training after it had trained to its end)."""
    from nequip_testutil import DATA

    metrics = {"energy_rmse": "val0_epoch/per_atom_energy_rmse", "force_rmse": "val0_epoch/forces_rmse",
               "train_loss": "train_loss_epoch/weighted_sum", "energy_mae": "val0_epoch/energy_mae"}
    run, trainer = prepare(tmp_path, metrics=metrics)
    assert trainer.objectives == ("energy_rmse", "force_rmse")
    workdir = tmp_path / "done"
    workdir.mkdir()
    (workdir / "metrics.csv").write_bytes((DATA / "metrics.csv").read_bytes())
    measured = trainer.read_fitness(workdir, trainer.render(a_trial(run)))
    assert set(measured) == {"energy_rmse", "force_rmse", "train_loss"}, measured
