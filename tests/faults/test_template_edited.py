"""Resuming after the template file was edited: the spec names the file, not its content,
so no key differs, and the resumed search would mix candidates of two models.  The run
records the template's digest when it starts and refuses such a resume (exit 2 in
hpo-run), unless --force.  Real deepmd trainer, the stand-in dp, local Dask."""

from __future__ import annotations

import shutil

import pytest
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
from dnnp_hpo.registry import load_registry
from dnnp_hpo.resume import check_run_dir


def test_a_run_resumed_with_an_edited_template_is_refused_unless_forced(tmp_path):
    spec = write_spec(tmp_path / "spec.yaml", deepmd_spec(tmp_path / "run", generations=1, env={"FAULTS_FAULT": "ok"}))
    with pytest.raises(Stopped):
        run_in_process(spec, extra_plugins=[StopAfterGenerationZero()])
    registry = load_registry()

    # untouched (or rewritten with the same content): it resumes
    (tmp_path / "tmpl.json").write_text(TEMPLATE, encoding="utf-8")
    run, _ = prepare_run(spec, registry)
    assert check_run_dir(run, resume=False, force=False).resumed

    # the same spec and template elsewhere (a run moved to a cluster): the content counts
    moved = tmp_path / "elsewhere"
    moved.mkdir()
    for name in ("spec.yaml", "tmpl.json"):
        shutil.copy(tmp_path / name, moved / name)
    run, _ = prepare_run(moved / "spec.yaml", registry)
    assert check_run_dir(run, resume=False, force=False).resumed

    (tmp_path / "tmpl.json").write_text(TEMPLATE.replace('"seed"', '"edited": 1, "seed"'), encoding="utf-8")
    run, _ = prepare_run(spec, registry)
    with pytest.raises(SpecError) as refused:
        check_run_dir(run, resume=False, force=False)
    assert refused.value.key == "trainer.template" and "edited since" in str(refused.value)
    assert check_run_dir(run, resume=False, force=True).resumed
