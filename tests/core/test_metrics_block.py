"""A ``trainer.metrics`` block replaces the trainer's default metrics (it is not merged with
them: a user's learning curve may lack their columns).  When the block drops a default an
objective names, the refusal says so and names the defaults, instead of reading as if the
trainer could not measure that objective."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from cli_testutil import trainer_spec, write_spec

from dnnp_hpo.cli import main
from dnnp_hpo.driver import prepare_run
from dnnp_hpo.errors import SpecError
from dnnp_hpo.registry import load_registry
from dnnp_hpo.training import check_objectives

REPO = Path(__file__).resolve().parents[2]
QUICKSTART = REPO / "configs" / "quickstart.yaml"
TINY = '{"x": $x, "act": "${act}", "seed": $seed, "training": {"disp_file": "lcurve.out"}}'
SPACE = {"x": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1},
         "act": {"type": "choice", "choices": ["tanh", "relu"], "sigma": 0.5}}

DROPPED = ("objective 'force_rmse' is not a metric of the trainer.metrics block (measured: energy_rmse, runtime): "
           "the block replaces the trainer's defaults (energy_rmse: rmse_e_val, force_rmse: rmse_f_val), "
           "so name every metric the objectives use")


def prepare_deepmd(tmp_path: Path, objectives=None, **trainer):
    """prepare_run of a deepmd spec on a tiny template (no dp: check_input false)."""
    (tmp_path / "tmpl.json").write_text(TINY)
    spec = trainer_spec(tmp_path / "run", {"plugin": "deepmd", "template": "tmpl.json", "check_input": False,
                                           **trainer}, SPACE)
    if objectives is not None:
        spec["objectives"] = objectives
    return prepare_run(write_spec(tmp_path / "spec.yaml", spec), load_registry())


def test_a_block_that_drops_a_default_says_it_replaces_them(tmp_path):
    with pytest.raises(SpecError) as info:
        prepare_deepmd(tmp_path, metrics={"energy_rmse": "rmse_e_trn"})
    assert info.value.key == "trainer.metrics"
    assert info.value.message == DROPPED


def test_quickstart_dry_run_with_one_metric_set(tmp_path, capsys, monkeypatch):
    """The report: --set trainer.metrics.energy_rmse=... on the quickstart."""
    monkeypatch.chdir(tmp_path)
    status = main([str(QUICKSTART), "--dry-run", "--set", "trainer.metrics.energy_rmse=rmse_e_trn"])
    err = capsys.readouterr().err
    assert status == 2
    assert err.splitlines() == [f"hpo-run: {QUICKSTART}: trainer.metrics: {DROPPED}"]
    assert list(tmp_path.iterdir()) == []


def test_a_block_naming_every_objective_is_taken_as_given(tmp_path):
    _run, trainer = prepare_deepmd(tmp_path, metrics={"energy_rmse": "rmse_e_trn", "force_rmse": "rmse_f_trn"})
    assert trainer.metrics == {"energy_rmse": "rmse_e_trn", "force_rmse": "rmse_f_trn"}


@pytest.mark.parametrize("metrics", [None, {"energy_rmse": "rmse_e_val", "force_rmse": "rmse_f_trn"}],
                         ids=["defaults", "block"])
def test_an_objective_no_default_names_keeps_the_old_message(tmp_path, metrics):
    """virial_rmse is none of the defaults: the block dropped nothing it names.  Without a
    block of the user's, the line names the objective (it named trainer.metrics, a block
    the spec had not: a chemist's review)."""
    objectives = [{"name": "energy_rmse"}, {"name": "virial_rmse"}]
    trainer = {} if metrics is None else {"metrics": metrics}
    with pytest.raises(SpecError) as info:
        prepare_deepmd(tmp_path, objectives=objectives, **trainer)
    assert info.value.key == ("objectives.1.name" if metrics is None else "trainer.metrics")
    assert info.value.message == ("objective 'virial_rmse' is not a metric of this trainer "
                                  "(it measures: energy_rmse, force_rmse, runtime)")


def test_check_objectives_without_defaults_as_before():
    """A plugin calling check_objectives(run, metrics) gets the message it got."""
    run = SimpleNamespace(objective_names=["energy_rmse", "force_rmse"])
    with pytest.raises(SpecError) as info:
        check_objectives(run, {"energy_rmse": "e"})
    assert info.value.message == "objective 'force_rmse' is not a metric of this trainer (it measures: energy_rmse, runtime)"
    # Defaults that do not name force_rmse: the block dropped nothing, the old message.
    with pytest.raises(SpecError, match="is not a metric of this trainer"):
        check_objectives(run, {"energy_rmse": "e"}, {"energy_rmse": "e"})


def test_an_objective_a_trainer_without_a_metrics_block_lacks_is_named_from_the_spec_top():
    """A trainer with no metrics key (key=""): the objective's name is at fault, named as
    objectives.N.name, which hpo-run's 'trainer' prefix leaves as it is, with "did you mean"."""
    run = SimpleNamespace(objective_names=["energy_rmse", "forse_rmse"])
    with pytest.raises(SpecError) as info:
        check_objectives(run, {"energy_rmse": "e", "force_rmse": "f"}, key="")
    located = info.value.located("spec.yaml", "trainer")
    assert str(located) == ("spec.yaml: objectives.1.name: objective 'forse_rmse' is not a metric of this trainer "
                            "(it measures: energy_rmse, force_rmse, runtime; did you mean force_rmse?)")
    # a key of the block's own keeps the prefix
    assert str(SpecError("bad", "metrics").located("spec.yaml", "trainer")) == "spec.yaml: trainer.metrics: bad"
