""""did you mean": the key offered for an unknown one is the closest the block takes, also
when the block has it already (then the hint says so), and a key the unknown one begins
(``workers`` of ``workers_per_node``) before a closer-scoring one (``worker_init``)."""

from __future__ import annotations

import pytest
from hpo_testutil import run_cli

from dnnp_hpo.cli import main
from dnnp_hpo.errors import SpecError
from dnnp_hpo.registry import load_registry
from dnnp_hpo.spec import load_experiment

PARSL_LOCAL = "launcher={plugin: parsl, provider: local, workers: 2}"

# (override on the zdt spec, key path, the unknown key with its hint)
HINTS = [
    # The block has workers: min_workers was offered, the next closest key it lacks.
    ("launcher.worker=5", "launcher", "unknown key(s): worker (did you mean workers? it is given too)"),
    # The block has generations: variation was offered.
    ("optimizer.generation=5", "optimizer",
     "unknown key(s): generation (did you mean generations? it is given too)"),
    # difflib scores worker_init above workers_per_node; workers is the latter's first word.
    (PARSL_LOCAL, "launcher", "unknown key(s): workers (did you mean workers_per_node?) (expected:"),
    # The block has crossover_eta, a little closer than the absent crossover_prob meant
    # (found by a review: "given too" would have had the probability deleted).
    (("optimizer={plugin: nsga2, pop_size: 8, generations: 1, variation: sbx, crossover_eta: 10, "
      "crossover_rate: 0.9}"), "optimizer", "unknown key(s): crossover_rate (did you mean crossover_prob?) (expected:"),
    # The case that excluded present keys: a block with sigma and sgima (delete one).
    ("space.x0.sgima=0.2", "space.x0", "unknown key(s): sgima (did you mean sigma? it is given too) (expected:"),
    # A key of the other optimizer: variation was offered for generations, nothing for max_births.
    ("optimizer={plugin: nsga2-async, generations: 5}", "optimizer",
     "unknown key(s): generations (a key of nsga2, not nsga2-async, which has max_births, init_pop_size) (expected:"),
    ("optimizer={plugin: nsga2, pop_size: 8, max_births: 50}", "optimizer",
     "unknown key(s): max_births (a key of nsga2-async, not nsga2, which has generations) (expected:"),
    # All of replicates' keys are its own: said once, in "(expected: ...)" (helper-111 read them twice).
    ("optimizer={plugin: replicates, source: runs/x, pop_size: 4}", "optimizer",
     "unknown key(s): pop_size (a key of nsga2, nsga2-async, not replicates) (expected: source, members, seeds)"),
    # Parameter types alike; a component with more keys of its own than a few is not listed.
    ("space.x0.choices=[a, b]", "space.x0", "unknown key(s): choices (a key of choice, not float, which has log)"),
    ("launcher={plugin: parsl, provider: local, threads_per_worker: 2}", "launcher",
     "unknown key(s): threads_per_worker (a key of dask, not parsl) (expected:"),
    # The key was shown bare: 'seed ' (did you mean seed?) read as seed (did you mean seed?)
    ("seed =1", "", "unknown key(s): 'seed ' (did you mean seed? it is given too) (expected:"),
]


@pytest.mark.parametrize("override, key, hint", HINTS, ids=[h[0].split("=")[0] for h in HINTS])
def test_load_experiment_offers_the_closest_key(override, key, hint, spec_file):
    path = spec_file()
    with pytest.raises(SpecError) as info:
        load_experiment(path, load_registry(), (override,))
    assert info.value.key == key
    assert info.value.message.startswith(hint), info.value.message


@pytest.mark.parametrize("override, key, hint", HINTS, ids=[h[0].split("=")[0] for h in HINTS])
def test_dry_run_prints_the_hint_on_one_line(override, key, hint, spec_file, capsys, tmp_path, monkeypatch):
    path = spec_file()
    monkeypatch.chdir(tmp_path)
    assert main([str(path), "--dry-run", "--set", override]) == 2
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"hpo-run: {path}: {key + ': ' if key else ''}{hint}"), lines[0]
    assert not (tmp_path / "run").exists()


def test_a_key_the_block_lacks_has_the_plain_hint(spec_file):
    """A misspelt required key (sigma absent): the hint as before, no "given too"."""
    path = spec_file()
    with pytest.raises(SpecError) as info:
        load_experiment(path, load_registry(), ("space.x0={type: float, init: [0, 1], sigmas: 0.1, log: false}",))
    assert info.value.message.startswith("unknown key(s): sigmas (did you mean sigma?) (expected:"), info.value.message


def test_no_close_key_no_hint(spec_file):
    path = spec_file()
    with pytest.raises(SpecError) as info:
        load_experiment(path, load_registry(), ("optimizer.colour=red",))
    assert info.value.message.startswith("unknown key(s): colour (expected:"), info.value.message


@pytest.mark.parametrize("override, message", [
    ("launcher.worker=5",
     ("launcher: unknown key(s): worker (did you mean workers? it is given too) (expected: workers, "
     "threads_per_worker, dashboard, local_directory, retries, scheduler_file, address, min_workers, wait_timeout, "
     "shutdown)")),
    ("optimizer={plugin: nsga2-async, generations: 5}",
     ("optimizer: unknown key(s): generations (a key of nsga2, not nsga2-async, which has max_births, "
     "init_pop_size) (expected: pop_size, sigma_decay, variation, crossover_eta, crossover_prob, mutation_eta, "
     "mutation_prob, max_births, init_pop_size)")),
], ids=["misspelt", "other-optimizers-key"])
def test_console_script(spec_file, tmp_path, hpo_run_exe, override, message):
    """The real hpo-run: exit 2, the hint, one line, nothing on stdout."""
    path = spec_file()
    proc = run_cli(hpo_run_exe, str(path), "--dry-run", "--set", override, cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stdout == ""
    assert proc.stderr.splitlines() == [f"hpo-run: {path}: {message}"]
