"""Settings of the nsga2 optimizers that no search can use are refused by the spec check:
one line naming the key, exit 2, nothing written."""

from __future__ import annotations

import pytest
from cli_testutil import write_spec, zdt_spec

from dnnp_hpo.cli import main


@pytest.mark.parametrize("plugin", ["nsga2", "nsga2-async"])
@pytest.mark.parametrize("decay", [1.0001, 2, 1e308, 0, -0.5])
def test_sigma_decay_outside_zero_to_one_is_refused(tmp_path, capsys, plugin, decay):
    """1e308 passed: sigmas overflowed to inf (a RuntimeWarning) and every mutation was
    clipped to a bound; any value above 1 made the sigmas grow each generation."""
    spec = write_spec(tmp_path / "bad.yaml", zdt_spec(tmp_path / "run", optimizer={
        "plugin": plugin, "pop_size": 4, "variation": "paper", "sigma_decay": decay}))
    assert main([str(spec)]) == 2
    err = capsys.readouterr().err
    assert err == (f"hpo-run: {spec}: optimizer.sigma_decay: sigma_decay must lie in (0, 1] (each generation "
                   f"multiplies every sigma by it; 1 keeps them), got {float(decay)}\n"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


@pytest.mark.parametrize("decay", [1, 0.85, 1e-9])
def test_sigma_decay_in_zero_to_one_passes(tmp_path, capsys, decay):
    spec = write_spec(tmp_path / "ok.yaml", zdt_spec(tmp_path / "run", optimizer={
        "plugin": "nsga2", "pop_size": 4, "variation": "paper", "sigma_decay": decay}))
    assert main([str(spec), "--dry-run"]) == 0, capsys.readouterr().err


@pytest.mark.parametrize("plugin", ["nsga2", "nsga2-async"])
def test_a_key_the_variation_does_not_read_is_warned_about(tmp_path, capsys, plugin):
    """sigma_decay: 0.5 beside the default sbx-steady was taken without a word and changed
    nothing; so were the sbx rates beside any other preset.  A warning (a spec may keep it
    for --set optimizer.variation=paper), and none for a key its variation reads."""
    optimizer = {"plugin": plugin, "pop_size": 4, "sigma_decay": 0.5, "mutation_eta": 7}
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", optimizer=optimizer))
    assert main([str(spec), "--dry-run"]) == 0
    warned = [line for line in capsys.readouterr().err.splitlines() if "does not read" in line]
    assert warned == [
        (f"hpo-run: warning: {spec}: optimizer.sigma_decay: variation sbx-steady does not read it (only paper "
        "does), so it changes nothing"),
        (f"hpo-run: warning: {spec}: optimizer.mutation_eta: variation sbx-steady does not read it (only sbx "
        "does), so it changes nothing")], warned
    for variation, unread in (("paper", "mutation_eta"), ("sbx", "sigma_decay")):
        spec = write_spec(tmp_path / f"{variation}.yaml", zdt_spec(tmp_path / variation, optimizer={
            **optimizer, "variation": variation}))
        assert main([str(spec), "--dry-run"]) == 0
        warned = [line for line in capsys.readouterr().err.splitlines() if "does not read" in line]
        assert len(warned) == 1 and f"optimizer.{unread}: variation {variation} does not read" in warned[0], warned


def test_the_unread_key_warning_comes_once_on_resume(tmp_path, capsys):
    """prepare is asked again for the run a resume takes up (twice: before and under the
    run lock): the warning came three times (helper-106)."""
    optimizer = {"plugin": "nsga2", "pop_size": 4, "generations": 1, "sigma_decay": 0.5}
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", optimizer=optimizer))
    assert main([str(spec)]) == 0
    capsys.readouterr()
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", optimizer={**optimizer, "generations": 2}))
    assert main([str(spec), "--force"]) == 0
    err = capsys.readouterr().err
    assert err.count("optimizer.sigma_decay: variation sbx-steady does not read it") == 1, err


@pytest.mark.parametrize(("key", "given", "meant"), [
    ("optimizer.variation", "sbx-stedy", "sbx-steady"),
    ("optimizer.variation", "sbx_steady", "sbx-steady"),
    ("optimizer.variation", "SBX-Tuned", "sbx-tuned"),
    ("optimizer.variation", "gaussian", None),
    ("launcher.provider", "slurn", "slurm"),
    ("launcher.provider", "LSF", "lsf"),
])
def test_a_misspelt_choice_is_named_with_the_closest(tmp_path, capsys, key, given, meant):
    """A misspelt choice was listed with every choice but none named, where a misspelt
    key or plugin name gets "did you mean" (helper-124); one line, exit 2, nothing made."""
    spec = zdt_spec(tmp_path / "run", optimizer={"plugin": "nsga2-async", "pop_size": 4},
                    launcher={"plugin": "parsl"})
    block, name = key.split(".")
    spec[block][name] = given
    path = write_spec(tmp_path / "bad.yaml", spec)
    assert main([str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{key}: {name} must be one of " in err and f"got {given!r}" in err, err
    assert err.rstrip().endswith(f"(did you mean {meant}?)" if meant else f"got {given!r}"), err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


@pytest.mark.parametrize(("optimizer", "said"), [
    ({"plugin": "nsga2", "pop_size": 4, "generations": 2},
     ("nsga2: pop_size 4, generations 2 (12 evaluations), variation sbx-steady: tournament of 4, SBX crossover "
     "(eta 30, pairs 0.9, genes 1), polynomial mutation (eta 5, genes 0.2), duplicates bred again")),
    ({"plugin": "nsga2", "pop_size": 4, "variation": "sbx", "mutation_prob": None, "crossover_eta": 12},
     ("nsga2: pop_size 4, generations 6 (28 evaluations), variation sbx: tournament of 2, SBX crossover "
     "(eta 12, pairs 0.9, genes 0.5), polynomial mutation (eta 10, genes 1/genes)")),
    ({"plugin": "nsga2", "pop_size": 4, "variation": "paper", "sigma_decay": 0.5},
     ("nsga2: pop_size 4, generations 6 (28 evaluations), variation paper: a random parent, Gaussian mutation by "
     "each parameter's sigma within the bounds, sigmas x 0.5 each generation")),
    ({"plugin": "nsga2-async", "pop_size": 4, "max_births": 1200, "init_pop_size": 3, "variation": "sbx-tuned"},
     ("nsga2-async: pop_size 4, max_births 1,200 (evaluations, generation 0 included), init_pop_size 3 (in flight "
     "at once), variation sbx-tuned: tournament of 2, SBX crossover (eta 15, pairs 0.9, genes 1), polynomial "
     "mutation (eta 5, genes 0.2), duplicates bred again")),
])
def test_the_dry_run_says_the_search_it_would_run(tmp_path, capsys, optimizer, said):
    """--dry-run named the launcher but not the optimizer: a preset's rates and the budget
    were read in the docs, not in what would run (helper-124).  The values are the ones
    the operators are built with (algorithm.SBX_STEADY and the rest), not the spec's rate
    fields a preset does not read."""
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", optimizer=optimizer))
    assert main([str(spec), "--dry-run"]) == 0, capsys.readouterr().err
    lines = capsys.readouterr().out.splitlines()
    assert f"Optimizer: {said}" in lines, lines
    assert lines.index(f"Optimizer: {said}") + 1 == next(i for i, line in enumerate(lines) if line.startswith("Launcher: "))
