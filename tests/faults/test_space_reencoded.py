"""Resuming with --force after editing how a parameter is encoded.  A genome is genes,
not values: with ``log: true`` turned off the journal's log10(lr) genes (about -3) read as
lr = -3 (clipped to the bounds), a type changed or the choices reordered give the recorded
members other values than they trained with.  Such a resume is refused even with --force;
edits that read every gene as before (wider bounds, another sigma) go on with --force.
Real function trainer (ZDT1), local Dask, a real journal."""

from __future__ import annotations

import copy

import pytest
from cli_testutil import hpo_run, write_spec
from faults_testutil import StopAfterGenerationZero, Stopped, run_in_process

from dnnp_hpo.driver import execute, prepare_run
from dnnp_hpo.errors import SpecError
from dnnp_hpo.journal import Journal
from dnnp_hpo.registry import load_registry
from dnnp_hpo.resume import check_run_dir

SPEC = {
    "name": "reencoded",
    "seed": 4,
    "space": {
        "x0": {"type": "float", "log": True, "init": [0.01, 1.0], "sigma": 0.3},
        "x1": {"type": "int", "init": [0, 3], "sigma": 1},
        "x2": {"type": "choice", "choices": [0.1, 0.9], "sigma": 0.5},
        "x3": {"type": "float", "init": [0.0, 1.0], "bounds": [0.0, 1.0], "sigma": 0.1},
    },
    "objectives": [{"name": "f1"}, {"name": "f2"}],
    "trainer": {"plugin": "function", "callable": "dnnp_hpo.problems:zdt1"},
    "optimizer": {"plugin": "nsga2", "pop_size": 6, "generations": 2},
    "launcher": {"plugin": "dask", "workers": 1},
}



@pytest.fixture(scope="module")
def started(tmp_path_factory):
    """A run stopped after generation 0: its journal, and the spec it started with."""
    tmp = tmp_path_factory.mktemp("reencoded")
    spec = {**copy.deepcopy(SPEC), "run_dir": str(tmp / "run")}
    path = write_spec(tmp / "spec.yaml", spec)
    with pytest.raises(Stopped):
        run_in_process(path, extra_plugins=[StopAfterGenerationZero()])
    return tmp, spec


def edited(started, change) -> tuple:
    tmp, spec = started
    spec = copy.deepcopy(spec)
    change(spec["space"])
    path = write_spec(tmp / "edited.yaml", spec)
    run, _ = prepare_run(path, load_registry())
    return path, run


@pytest.mark.parametrize(("name", "change"), [
    ("x0", lambda space: space["x0"].update(log=False, init=[0.01, 1.0])),
    ("x1", lambda space: space["x1"].update(type="float", init=[0.0, 3.0], sigma=0.5)),
    ("x2", lambda space: space["x2"].update(choices=[0.9, 0.1])),
])
def test_a_space_that_reads_the_genomes_as_other_values_is_refused_even_with_force(started, name, change):
    path, run = edited(started, change)
    for force in (False, True):
        with pytest.raises(SpecError) as refused:
            check_run_dir(run, resume=True, force=force)
        assert refused.value.key == f"space.{name}"
        assert "not even with --force" in str(refused.value) and "trained" in str(refused.value)
    if name == "x0":  # the command line once (a process of its own costs seconds)
        result = hpo_run(str(path), "--force")
        assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1, result.stderr
        assert f"space.{name}" in result.stderr and "Traceback" not in result.stderr


def test_a_space_that_reads_every_gene_as_before_resumes_with_force(started):
    def widened(space):
        space["x3"].update(bounds=[-1.0, 2.0], sigma=0.2)
        space["x2"].update(sigma=0.4, choices=[0.1, 0.9, 0.5])  # a choice added at the end
        # narrowed: a member outside is bred as if on the nearest bound, as documented
        space["x1"].update(init=[1, 2])

    _, run = edited(started, widened)
    with pytest.raises(SpecError) as refused:  # a different spec: --force still needed
        check_run_dir(run, resume=True, force=False)
    assert "--force" in str(refused.value) and "not even" not in str(refused.value)
    assert check_run_dir(run, resume=True, force=True).resumed


def test_the_original_space_after_a_forced_edit_is_refused_as_an_edit_of_it(tmp_path):
    """Found by a review: the check ran only when the spec's space differed from the one
    the run started with, so going back to it after births were bred under an edited space
    (a choice added, allowed with --force) read them as other values without a word."""
    spec = {**copy.deepcopy(SPEC), "run_dir": str(tmp_path / "run")}
    original = write_spec(tmp_path / "spec.yaml", spec)
    with pytest.raises(Stopped):
        run_in_process(original, extra_plugins=[StopAfterGenerationZero()])
    # a choice added at the end, and (so that offspring take it) the genes held to it
    spec["space"]["x2"].update(choices=[0.1, 0.9, 0.5], init=[2.0, 3.0], bounds=[2.0, 3.0])
    edited = write_spec(tmp_path / "edited.yaml", spec)
    registry = load_registry((StopAfterGenerationZero(),))
    run, trainer = prepare_run(edited, registry)
    with pytest.raises(Stopped):  # one more generation, bred under the edited space
        execute(check_run_dir(run, resume=True, force=True), trainer, registry)
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        assert any(e.trial.params["x2"] == 0.5 for e in journal.evaluations()), "no birth took the new choice"

    # The forced session recorded the edited spec (the run is now its): the original is
    # an edit of it, one that reads the births bred since as other values, and is refused
    # even with --force.
    run, _ = prepare_run(original, load_registry())
    for force in (False, True):
        with pytest.raises(SpecError) as refused:
            check_run_dir(run, resume=True, force=force)
        assert refused.value.key == "space.x2" and "trained x2 = 0.5" in str(refused.value)
        assert "not even with --force" in str(refused.value)
