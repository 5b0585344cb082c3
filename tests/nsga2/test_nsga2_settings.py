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
