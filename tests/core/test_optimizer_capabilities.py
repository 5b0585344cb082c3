"""A third-party optimizer and the optional protocols of core/hookspecs.py: ``Extendable``
(a finished run taken up again with a larger budget) and ``Generational`` (the progress
display's generations).  Real runs: the function trainer on one local Dask worker."""

from __future__ import annotations

import attrs
import numpy as np
import pytest
from hpo_testutil import read_csv, write_spec, zdt_spec

from dnnp_hpo.driver import execute, prepare_run
from dnnp_hpo.errors import SpecError
from dnnp_hpo.evaluation import Member
from dnnp_hpo.hookspecs import Extendable, Generational, hookimpl
from dnnp_hpo.journal import FINISHED, Journal
from dnnp_hpo.plugins.nsga2.algorithm import SBX_STEADY, nsga2, random_genomes
from dnnp_hpo.registry import load_registry
from dnnp_hpo.resume import check_run_dir


@attrs.frozen
class Rounds:
    """NSGA-II under a third party's own budget name, ``rounds`` (generations after 0)."""

    pop_size: int = 4
    rounds: int = 1

    def prepare(self, run) -> None:
        pass

    def planned_evaluations(self) -> int:
        return self.pop_size * (self.rounds + 1)

    def initial_genomes(self, study):
        return random_genomes(np.random.default_rng(study.seed), study, self.pop_size)

    def run(self, study, checkpoint=None):
        rng = np.random.default_rng(study.seed)
        initial = random_genomes(rng, study, self.pop_size)
        return nsga2(study, rng, self.pop_size, self.rounds, 0.85, None if checkpoint else initial, checkpoint,
                     variation=SBX_STEADY)


@attrs.frozen
class ExtendableRounds(Rounds):
    def extends(self, held) -> bool:
        return self.rounds > held.generation


@attrs.frozen
class Faulty(Rounds):
    """Rounds whose ``run`` is wrong as a plugin author's first try may be (helper-128):
    ``evaluations`` returns what study.evaluate gave, ``none`` forgets its return, ``empty``
    returns no member, ``unrecorded`` returns members but never recorded a generation."""

    mistake: str = "evaluations"

    def run(self, study, checkpoint=None):
        if self.mistake == "fixed":
            return super().run(study, checkpoint)
        if self.mistake == "evaluations":
            return study.evaluate(self.initial_genomes(study), 0)
        if self.mistake == "none":
            super().run(study, checkpoint)
            return None
        evaluations = study.evaluate(self.initial_genomes(study), 0)
        return [] if self.mistake == "empty" else [Member(e, 0, 0.0) for e in evaluations]


class RoundsPlugin:
    @hookimpl
    def dnnp_hpo_optimizers(self):
        return {"rounds": Rounds, "extendable-rounds": ExtendableRounds, "faulty": Faulty}


@pytest.fixture(scope="module")
def registry():
    return load_registry(extra_plugins=(RoundsPlugin(),))


def _hpo_run(registry, spec_path, *overrides: str, force: bool = False):
    """What hpo-run does, in-process (the plugin is not an installed entry point)."""
    run, trainer = prepare_run(spec_path, registry, overrides)
    return execute(check_run_dir(run, resume=False, force=force), trainer, registry)


def _search(run_dir):
    """Every evaluation as (birth, genome, fitness), and how often each birth was trained."""
    rows = read_csv(run_dir / "individuals.csv")
    with Journal.of(run_dir, readonly=True) as journal:
        births = [e.trial.birth_id for e in journal.evaluations()]
    return sorted((int(r["birth_id"]), r["x0"], r["x1"], r["f1"], r["f2"]) for r in rows), births


def test_the_protocols_are_what_the_built_in_optimizers_have(registry):
    """nsga2 is both, nsga2-async extendable only; a third party's class is either only by
    having the methods and fields (nothing to inherit from core)."""
    table = {name: entry.cls for name, entry in registry.components["optimizers"].items()}
    made = {name: table[name]() for name in ("nsga2", "nsga2-async", "rounds", "extendable-rounds")}
    assert {name: (isinstance(o, Generational), isinstance(o, Extendable)) for name, o in made.items()} == {
        "nsga2": (True, True), "nsga2-async": (False, True), "rounds": (False, False),
        "extendable-rounds": (False, True)}


def test_a_third_party_optimizer_that_says_how_is_extended(registry, tmp_path, capsys):
    reference = tmp_path / "reference"
    spec = zdt_spec(reference, n=2, seed=4, optimizer={"plugin": "extendable-rounds", "pop_size": 4, "rounds": 2})
    _hpo_run(registry, write_spec(tmp_path / "reference.yaml", spec))

    run_dir = tmp_path / "run"
    spec = zdt_spec(run_dir, n=2, seed=4, optimizer={"plugin": "extendable-rounds", "pop_size": 4, "rounds": 1})
    path = write_spec(tmp_path / "run.yaml", spec)
    _hpo_run(registry, path)
    assert len(_search(run_dir)[0]) == 8
    with pytest.raises(SpecError, match="pass --force to extend it with the larger budget"):
        _hpo_run(registry, path, "optimizer.rounds=2")
    _hpo_run(registry, path, "optimizer.rounds=2", force=True)

    search, births = _search(run_dir)
    assert search == _search(reference)[0]
    assert sorted(births) == list(range(12))  # nothing trained twice
    # Not Generational: the progress lines count births against the budget.
    out = capsys.readouterr().out
    assert "births 12 of 12 (snapshot 2)" in out, out


def test_a_third_party_optimizer_that_cannot_say_is_not_extended(registry, tmp_path):
    run_dir = tmp_path / "run"
    spec = zdt_spec(run_dir, n=2, seed=4, optimizer={"plugin": "rounds", "pop_size": 4, "rounds": 1})
    path = write_spec(tmp_path / "run.yaml", spec)
    _hpo_run(registry, path)
    with pytest.raises(SpecError, match=r"its optimizer \(rounds\) does not extend a finished run \(an optimizer "
                                        r"plugin does with an extends\(held\) method: docs/plugins.md\)"):
        _hpo_run(registry, path, "optimizer.rounds=2", force=True)
    assert len(_search(run_dir)[0]) == 8


def test_journal_holdings_is_still_where_the_docs_first_named_it():
    """docs/plugins.md told optimizer authors to call dnnp_hpo.driver.journal_holdings;
    it moved to dnnp_hpo.resume, and a plugin importing it from the driver still loads."""
    from dnnp_hpo import driver, resume

    assert driver.journal_holdings is resume.journal_holdings
    assert driver.recorded_settings is resume.recorded_settings and driver.Holdings is resume.Holdings


@pytest.mark.parametrize(("mistake", "said"), [
    ("evaluations", "Faulty.run returned a population with Evaluation("),
    ("none", "Faulty.run returned None: expected the final population"),
    ("empty", "Faulty.run returned []: expected the final population"),
])
def test_an_optimizer_that_returns_no_population_leaves_a_run_to_resume(registry, tmp_path, mistake, said):
    """Its run was recorded as finished all the same, with no population: a journal that
    neither a resume (with the plugin fixed) nor hpo-report could read again ("damaged
    journal: it records a finished run, but no population"), a run directory lost."""
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", optimizer={"plugin": "faulty", "mistake": mistake}))
    with pytest.raises(TypeError) as refused:
        _hpo_run(registry, spec)
    assert str(refused.value).startswith(said), refused.value
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        assert not journal.meta(FINISHED)
    # the plugin fixed: the same run directory resumes to a finished run
    population = _hpo_run(registry, spec, "optimizer.mistake=fixed", force=True)
    assert len(population) == 4


def test_an_optimizer_that_records_no_generation_is_told_so(registry, tmp_path):
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", optimizer={"plugin": "faulty", "mistake": "unrecorded"}))
    with pytest.raises(TypeError, match=r"Faulty.run ended without recording a generation: it must call "
                                        r"study.generation_finished at least once"):
        _hpo_run(registry, spec)
