"""A replicates run whose spec is the search's, but whose template or data hold other
content now: the spec names the files, not their content, so no key differs, and the
replicates trained another network (or on other data) as the front's seed spread
(helper-111).  Refused at start-up, naming optimizer.source.  Real deepmd trainer, the
stand-in dp (as for a resumed search's own checks: test_template_edited, test_data_changed),
local Dask, real journals."""

from __future__ import annotations

import pytest
from cli_testutil import hpo_run
from faults_testutil import TEMPLATE, deepmd_spec, journal_evaluations, run_in_process, write_spec
from test_data_changed import DATA_TEMPLATE, write_system

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.errors import SpecError
from dnnp_hpo.journal import DATA_DIGESTS, Journal
from dnnp_hpo.registry import load_registry


def _replicates(tmp_path, spec: dict, template: str) -> object:
    """The search's spec with a replicates block, written beside ``template``."""
    replicates = {**spec, "run_dir": str(tmp_path / "reps"), "seed": spec["seed"] + 1,
                  "optimizer": {"plugin": "replicates", "source": str(tmp_path / "run"), "seeds": 2}}
    return write_spec(tmp_path / "reps.yaml", replicates, template=template)


def test_a_template_edited_since_the_search_is_refused(tmp_path):
    spec = deepmd_spec(tmp_path / "run", env={"FAULTS_FAULT": "ok"})
    run_in_process(write_spec(tmp_path / "spec.yaml", spec))
    path = _replicates(tmp_path, spec, TEMPLATE)
    prepare_run(path, load_registry())  # the template as searched: accepted

    _replicates(tmp_path, spec, TEMPLATE.replace('"seed"', '"edited": 1, "seed"'))
    with pytest.raises(SpecError) as refused:
        prepare_run(path, load_registry())
    assert refused.value.key == "optimizer.source"
    assert (f"{tmp_path / 'run'} was searched with another content of the template tmpl.json (edited since)"
            in refused.value.message), refused.value.message
    result = hpo_run(str(path), cwd=tmp_path)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "reps").exists()


def test_data_changed_since_the_search_is_refused(tmp_path):
    write_system(tmp_path / "data" / "sys1", "1.0")
    write_system(tmp_path / "valid", "1.0")
    spec = deepmd_spec(tmp_path / "run", env={"FAULTS_FAULT": "ok"},
                       settings={"data": str(tmp_path / "data"), "valid": str(tmp_path / "valid")}, paths=["data"])
    run_in_process(write_spec(tmp_path / "spec.yaml", spec, template=DATA_TEMPLATE))
    path = _replicates(tmp_path, spec, DATA_TEMPLATE)
    prepare_run(path, load_registry())  # the data as searched: accepted

    write_system(tmp_path / "data" / "sys1", "2.0")  # a frame's label changed in place
    with pytest.raises(SpecError) as refused:
        prepare_run(path, load_registry())
    assert refused.value.key == "optimizer.source"
    assert (f"was searched on other data than {tmp_path / 'data'} holds now" in refused.value.message), \
        refused.value.message


def test_a_replicates_session_reads_its_data_once(tmp_path, monkeypatch):
    """The replicates' look at their source's data and the run's own record of them are
    one read: the dataset was hashed twice at a replicates run's start (2.4 s more for
    2.3 GB, docs/benchmarks.md section 7), and on a cold parallel file system one read is
    the file system's bandwidth."""
    write_system(tmp_path / "data" / "sys1", "1.0")
    write_system(tmp_path / "valid", "1.0")
    spec = deepmd_spec(tmp_path / "run", env={"FAULTS_FAULT": "ok"},
                       settings={"data": str(tmp_path / "data"), "valid": str(tmp_path / "valid")}, paths=["data"])
    run_in_process(write_spec(tmp_path / "spec.yaml", spec, template=DATA_TEMPLATE))

    import dnnp_hpo.run
    reads = []
    real = dnnp_hpo.run.data_digests
    monkeypatch.setattr(dnnp_hpo.run, "data_digests", lambda paths: reads.append(tuple(paths)) or real(paths))
    replicates = run_in_process(_replicates(tmp_path, spec, DATA_TEMPLATE))

    assert reads == [(str(tmp_path / "data"),)], reads
    evaluations = journal_evaluations(replicates)
    assert evaluations and all(e.ok for e in evaluations), evaluations
    with Journal.of(replicates, readonly=True) as journal:
        recorded = journal.meta(DATA_DIGESTS, None)
    assert recorded == [d.to_json() for d in real([str(tmp_path / "data")])]
