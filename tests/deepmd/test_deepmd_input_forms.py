"""Inputs that DeePMD-kit trains, written in its other forms: the start-up checks read
them as ``dp`` does (found by helper-64's review: each was refused, or passed without
its checks, or failed every training).

Start-up runs DeePMD-kit's real argcheck here; the HDF5 test trains with the real ``dp``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from deepmd_testutil import QUICKSTART
from test_deepmd_trainer import TINY, a_trial, demo_overrides, prepare

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.errors import SpecError, TrainingFailed
from dnnp_hpo.fingerprint import content_digest, data_digests
from dnnp_hpo.paths import data_location
from dnnp_hpo.plugins.deepmd.backend import tensorflow_backend
from dnnp_hpo.plugins.deepmd.lcurve import schedule
from dnnp_hpo.registry import load_registry
from dnnp_hpo.training import write_input

DEMO_TEMPLATE = (QUICKSTART.parent / "templates" / "deepmd_se_e2_a_demo.json").read_text()
QUICKSTART_SPACE_VALUES = {"start_lr": 3e-3, "stop_lr": 1e-4, "rcut": 5.0, "rcut_smth": 2.0,
                           "scale_by_worker": "linear", "desc_activ_func": "tanh", "fitting_activ_func": "tanh"}


def prepare_quickstart(tmp_path: Path, template: str, *overrides: str):
    """The quickstart spec on ``template``, checked by DeePMD-kit's argcheck."""
    (tmp_path / "t.json").write_text(template)
    return prepare_run(QUICKSTART, load_registry(), [f"run_dir={tmp_path / 'run'}",
                                                     f"trainer.template={tmp_path / 't.json'}", *overrides])


@pytest.mark.parametrize("key", ["num_step", "numb_step", "stop_batch", "num_steps"])
def test_every_name_of_the_step_count_is_checked(tmp_path: Path, key: str) -> None:
    """``num_step`` and ``numb_step`` (DeePMD-kit 3.2's aliases) skipped the disp_freq check
    at start-up and the complete-curve check after training: a fitness of step 90's model
    was recorded ok for a 100-step training."""
    assert schedule({"training": {key: 100, "disp_freq": 30}}) == (100, 30)
    template = TINY.replace('"training": {', f'"training": {{"{key}": 100, "disp_freq": $disp_freq, ')
    with pytest.raises(SpecError, match=f"training.disp_freq 30 does not divide training.{key} 100"):
        prepare(tmp_path, template, settings={"disp_freq": 30})
    run, trainer = prepare(tmp_path, template, settings={"disp_freq": 20})
    workdir = tmp_path / "w"
    workdir.mkdir()
    rows = "".join(f"{step} 0.1 0.2 1e-3\n" for step in range(0, 81, 20))  # cut short at step 80
    (workdir / "lcurve.out").write_text("# step rmse_e_val rmse_f_val lr\n" + rows)
    with pytest.raises(TrainingFailed, match="lcurve ends at step 80, short of step 100"):
        trainer.read_fitness(workdir, trainer.render(a_trial(run)))


def test_a_count_of_epochs_leaves_the_schedule_to_dp() -> None:
    """``numb_epoch``: dp works the steps out from the data, so no schedule is checked."""
    assert schedule({"training": {"numb_epoch": 3, "disp_freq": 30}}) is None


@pytest.mark.parametrize(("training", "where"), [
    ('"numb_test": 1, ', "training"),  # DP-GEN-era inputs: deprecated, dp drops it
    ('"warmup_steps": 10, ', "training"),  # DeePMD-kit 3.1: dp moves it to learning_rate
])
def test_inputs_dp_converts_before_checking_are_accepted(tmp_path: Path, training: str, where: str) -> None:
    """dp train converts older inputs (update_deepmd_input) before its argcheck; start-up
    checked them as written and refused ("undefined key `numb_test` is not allowed")."""
    prepare_quickstart(tmp_path, DEMO_TEMPLATE.replace('"training": {', '"training": {' + training))
    misspelt = DEMO_TEMPLATE.replace('"training": {', '"training": {' + training).replace("start_lr", "strt_lr", 1)
    with pytest.raises(SpecError, match="DeePMD-kit rejects the rendered input"):  # still checked
        prepare_quickstart(tmp_path, misspelt)


@pytest.mark.parametrize(("command", "tensorflow"), [
    (("dp", "-b", "pt", "train", "input.json"), False),
    (("dp", "-bpt", "train", "input.json"), False),
    (("dp", "-b", "tf", "train", "input.json"), True),
    (("dp", "--backend=pytorch", "train", "input.json"), False),
    (("dp", "--pt", "train", "input.json"), False),
    (("dp", "train", "input.json"), True),
    (("mpirun", "-bind-to", "core", "dp", "--tf", "train", "input.json"), True),
])
def test_the_backend_is_read_from_dp_short_flag(command, tensorflow, monkeypatch) -> None:
    """``dp -b pt`` was taken for TensorFlow, and PyTorch's columns refused at start-up."""
    monkeypatch.delenv("DP_BACKEND", raising=False)
    assert tensorflow_backend(command, {}) is tensorflow


def test_the_backend_hpo_run_is_given_in_its_environment_counts(monkeypatch) -> None:
    command = ("dp", "train", "input.json")
    monkeypatch.setenv("DP_BACKEND", "pytorch")
    assert not tensorflow_backend(command, {})
    assert tensorflow_backend(command, {"DP_BACKEND": "tensorflow"})  # trainer.env first


def test_pytorch_columns_with_dp_short_backend_flag_are_accepted(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("DP_BACKEND", raising=False)
    metrics = {"energy_rmse": "mae_e_val", "force_rmse": "mae_f_val"}
    with pytest.raises(SpecError, match="'mae_e_val' is not an lcurve.out column of DeePMD-kit's ener loss"):
        prepare(tmp_path, metrics=metrics, command=["dp", "--tf", "train", "input.json"])
    prepare(tmp_path, metrics=metrics, command=["dp", "-b", "pt", "train", "input.json"])


def test_a_loss_the_tensorflow_backend_does_not_train_is_refused(tmp_path: Path) -> None:
    """DeePMD-kit's argcheck takes loss_func mae; then 3 of 4 TensorFlow trainings failed
    with NotImplementedError.  Every rendered value is checked, so a searched one is named."""
    template = DEMO_TEMPLATE.replace('"type": "ener",', '"type": "ener", "loss_func": "${loss}",')
    space = f"space.loss={json.dumps({'type': 'choice', 'choices': ['mse', 'mae']})}"
    with pytest.raises(SpecError) as info:
        prepare_quickstart(tmp_path, template, space)
    assert info.value.key == "trainer.template"
    assert "loss.loss_func is 'mae' (from parameter space.loss), which DeePMD-kit's TensorFlow backend does not " \
           "train (only 'mse')" in info.value.message
    prepare_quickstart(tmp_path, template, space, "trainer.command=[dp, --pt, train, input.json]")
    prepare_quickstart(tmp_path, template, "space.loss={type: choice, choices: [mse]}")


def test_a_training_that_writes_no_learning_curve_is_refused(tmp_path: Path) -> None:
    """disp_training false passed start-up; each training ran to its end, then failed:
    "lcurve.out has no header line naming its columns"."""
    template = DEMO_TEMPLATE.replace('"training": {', '"training": {"disp_training": false, ')
    with pytest.raises(SpecError, match="training.disp_training is false: DeePMD-kit then writes no row to lcurve"):
        prepare_quickstart(tmp_path, template)


def test_a_group_of_an_hdf5_file_is_found_and_digested(tmp_path: Path) -> None:
    """``data.h5#/almelt``, as DeePMD-kit reads HDF5 data: the whole string is no path, so
    every training failed with "data path(s) not found" before dp started, and the run
    recorded no digest of the data."""
    h5 = tmp_path / "data.h5"
    h5.write_bytes(b"\x89HDF\r\n\x1a\n stand-in content")
    group = f"{h5}#/almelt"
    assert data_location(group) == str(h5)
    assert data_location(str(tmp_path / "missing.h5#/g")) == str(tmp_path / "missing.h5")
    write_input(tmp_path / "input.json", "{}", [group])
    with pytest.raises(TrainingFailed, match="data path.s. not found: .*missing.h5#/g"):
        write_input(tmp_path / "input.json", "{}", [str(tmp_path / "missing.h5#/g")])
    (digest,) = data_digests([group])
    assert digest.path == group and digest.sha256 == content_digest(h5) is not None
    named = tmp_path / "a#b"  # a directory whose name holds '#' is itself
    named.mkdir()
    assert data_location(str(named)) == str(named)


@pytest.mark.slow
def test_a_real_training_on_hdf5_data(tmp_path: Path, demo_data: Path) -> None:
    """The demo data converted with dpdata to DeePMD-kit's HDF5 format, trained by dp."""
    import dpdata
    import h5py

    overrides = demo_overrides(tmp_path, demo_data, steps=40, every=20)
    for part in ("train", "valid"):
        h5 = tmp_path / f"{part}.h5"
        dpdata.MultiSystems(dpdata.LabeledSystem(str(demo_data / part), fmt="deepmd/npy")).to("deepmd/hdf5", str(h5))
        with h5py.File(h5, "r") as file:
            (group,) = file.keys()
        overrides.append(f"trainer.settings.{part}_systems={h5}#/{group}")
    run, trainer = prepare_run(QUICKSTART, load_registry(), overrides)
    assert all(d.sha256 is not None for d in run.with_data_digests().data_digests)
    metrics = trainer.train(a_trial(run, QUICKSTART_SPACE_VALUES))
    assert all(math.isfinite(metrics[k]) and metrics[k] > 0 for k in ("energy_rmse", "force_rmse"))


def test_a_deepmd_kit_1_input_is_accepted_and_still_checked(tmp_path: Path) -> None:
    """DeePMD-kit 1's training.systems (dp converts it, with no validation data): start-up
    takes it as dp does, and still refuses the validation columns it never writes (the
    check looked at training_data alone, so every training failed at its end)."""
    v1 = DEMO_TEMPLATE.replace(
        '"training_data": {"systems": ["${train_systems}"], "batch_size": 1},\n'
        '    "validation_data": {"systems": ["${valid_systems}"], "batch_size": 4, "numb_btch": 1},',
        '"systems": ["${train_systems}", "${valid_systems}"], "batch_size": 1,')
    assert '"systems": ["${train_systems}", "${valid_systems}"]' in v1
    with pytest.raises(SpecError, match="the metrics read rmse_e_val, rmse_f_val, validation columns, but "
                                        "training.validation_data is missing"):
        prepare_quickstart(tmp_path, v1)
    prepare_quickstart(tmp_path, v1, "trainer.metrics={energy_rmse: rmse_e_trn, force_rmse: rmse_f_trn}")


def test_use_default_pf_is_refused_with_tensorflow(tmp_path: Path) -> None:
    template = DEMO_TEMPLATE.replace('"type": "ener",', '"type": "ener", "use_default_pf": true,')
    with pytest.raises(SpecError, match="loss.use_default_pf is True, which DeePMD-kit's TensorFlow backend does not"):
        prepare_quickstart(tmp_path, template)
