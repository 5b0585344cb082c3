"""Resuming after the training data changed under the same path: a dataset regenerated in
place, or ``$DATA`` set to another one.  No key of the spec differs, and the resumed search
would mix candidates trained on two datasets in one front.  The run records a digest of each
data path's content when it starts and refuses such a resume (exit 2 in hpo-run), unless
--force.  Real deepmd trainer, the stand-in dp, local Dask, a real journal."""

from __future__ import annotations

import shutil

import pytest
from cli_testutil import hpo_run
from faults_testutil import (
    TEMPLATE,
    StopAfterGenerationZero,
    Stopped,
    deepmd_spec,
    run_in_process,
    write_spec,
)

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.errors import SpecError
from dnnp_hpo.journal import DATA_DIGESTS, Journal
from dnnp_hpo.registry import load_registry
from dnnp_hpo.resume import check_run_dir

# training and validation data, as DeePMD-kit 2's input gives them: the stand-in dp writes
# the validation columns the metrics read (a DeePMD-kit 1 "systems" has none: refused)
DATA_TEMPLATE = TEMPLATE.replace('"training": {', '"training": {"training_data": {"systems": "$data"}, '
                                                  '"validation_data": {"systems": "$valid"}, ')



def write_system(root, energies: str) -> None:
    (root / "set.000").mkdir(parents=True, exist_ok=True)
    (root / "type.raw").write_text("0\n0\n", encoding="utf-8")
    (root / "set.000" / "energy.npy").write_text(energies, encoding="utf-8")


def started(tmp_path, data: str):
    write_system(tmp_path / "valid", "1.0")  # not digested (not in paths), but there: else warned about
    spec = deepmd_spec(tmp_path / "run", generations=1, env={"FAULTS_FAULT": "ok"},
                       settings={"data": data, "valid": str(tmp_path / "valid")}, paths=["data"])
    path = write_spec(tmp_path / "spec.yaml", spec, template=DATA_TEMPLATE)
    with pytest.raises(Stopped):
        run_in_process(path, extra_plugins=[StopAfterGenerationZero()])
    return path


def resumes(spec) -> bool:
    run, _ = prepare_run(spec, load_registry())
    return check_run_dir(run, resume=True, force=False).resumed


def test_a_run_resumed_on_changed_data_is_refused_unless_forced(tmp_path):
    write_system(tmp_path / "data" / "sys1", "1.0")
    spec = started(tmp_path, "data")
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        [recorded] = journal.meta(DATA_DIGESTS)
    assert recorded["path"] == str(tmp_path / "data") and len(recorded["sha256"]) == 64

    assert resumes(spec)  # untouched
    # touched, and copied elsewhere with its spec (new modification times): the content counts
    (tmp_path / "data" / "sys1" / "type.raw").touch()
    moved = tmp_path / "elsewhere"
    shutil.copytree(tmp_path / "data", moved / "data")
    for name in ("spec.yaml", "tmpl.json"):
        shutil.copy(tmp_path / name, moved / name)
    assert resumes(moved / "spec.yaml")

    # a frame's label changed in place, the same size
    write_system(tmp_path / "data" / "sys1", "2.0")
    run, _ = prepare_run(spec, load_registry())
    with pytest.raises(SpecError) as refused:
        check_run_dir(run, resume=True, force=False)
    assert refused.value.key == "trainer.paths" and str(tmp_path / "data") in str(refused.value)
    assert check_run_dir(run, resume=True, force=True).resumed

    # the same through the command line: one line, exit 2, nothing run
    result = hpo_run(str(spec), "--resume")
    assert result.returncode == 2, result.stderr
    assert "other data than" in result.stderr and "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1

    # a system added to the dataset: also other data
    write_system(tmp_path / "data" / "sys1", "1.0")
    assert resumes(spec)
    write_system(tmp_path / "data" / "sys2", "1.0")
    with pytest.raises(SpecError):
        resumes(spec)


def test_data_named_by_a_variable_set_elsewhere_on_resume_is_refused(tmp_path, monkeypatch):
    for name, energies in (("a", "1.0"), ("b", "2.0")):
        write_system(tmp_path / name / "sys", energies)
    monkeypatch.setenv("HPO_TEST_DATA", str(tmp_path / "a"))
    spec = started(tmp_path, "$HPO_TEST_DATA")
    assert resumes(spec)
    monkeypatch.setenv("HPO_TEST_DATA", str(tmp_path / "b"))
    with pytest.raises(SpecError) as refused:
        resumes(spec)
    assert str(tmp_path / "b") in str(refused.value)


def test_data_missing_when_the_run_started_is_not_compared(tmp_path):
    # Every training failed at once on it; the user puts the data in place and resumes.
    spec = started(tmp_path, "data")
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        assert journal.meta(DATA_DIGESTS) == [{"path": str(tmp_path / "data"), "sha256": None}]
    write_system(tmp_path / "data" / "sys1", "1.0")
    assert resumes(spec)
