"""The neighbours counted at start-up for a fixed sel under --skip-neighbor-stat
(plugins/deepmd/neighbourcount.py): the count is DeePMD-kit's own (its `dp neighbor-stat`
on the demo data, every frame), periodic images as ASE's neighbour list finds them in
skewed and small cells, and a quickstart spec whose sel the data outgrow is warned of
at the dry run (helper-121: a user's Ni-Al data, 11 neighbours short, told nothing)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from deepmd_testutil import QUICKSTART, VENV_BIN, dry_run

from dnnp_hpo.plugins.deepmd import neighbourcount
from dnnp_hpo.plugins.deepmd.neighbourcount import most_neighbours


def _all_frames(system: Path, type_map: list[str], rcut: float, monkeypatch) -> list[int]:
    monkeypatch.setattr(neighbourcount, "FRAMES_PER_SYSTEM", 10_000)
    coords, index, cells = neighbourcount._frames(system, type_map)
    return np.max([most_neighbours(c, cell, index, len(type_map), rcut) for c, cell in zip(coords, cells)],
                  axis=0).tolist()


def test_the_count_is_deepmd_kits_own(demo_data: Path, monkeypatch) -> None:
    """rcut 9 A in the demo's 8 A cells: images two cells away count too."""
    done = subprocess.run([str(VENV_BIN / "dp"), "--tf", "neighbor-stat", "-s", str(demo_data / "train"),
                           "-r", "9.0", "-t", "Al", "Cu"], capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    found = re.search(r"max_nbor_size: \[\s*(\d+)\s+(\d+)\s*\]", done.stdout + done.stderr)
    assert found, done.stderr[-2000:]
    assert _all_frames(demo_data / "train", ["Al", "Cu"], 9.0, monkeypatch) == [int(n) for n in found.groups()]


@pytest.mark.parametrize("seed", range(6))
def test_periodic_images_are_counted_as_ase_finds_them(seed: int) -> None:
    ase_neighbours = pytest.importorskip("ase.neighborlist")
    from ase import Atoms

    rng = np.random.default_rng(seed)
    cell = np.diag(rng.uniform(3.0, 9.0, 3)) + np.triu(rng.uniform(-1.5, 1.5, (3, 3)), 1)  # skewed, some small
    n = int(rng.integers(2, 30))
    types = rng.integers(0, 2, n)
    atoms = Atoms(numbers=np.where(types == 0, 13, 29), scaled_positions=rng.uniform(0, 1, (n, 3)), cell=cell,
                  pbc=True)
    rcut = float(rng.uniform(2.0, 7.0))
    first, second = ase_neighbours.neighbor_list("ij", atoms, rcut)
    expected = np.zeros((n, 2), dtype=int)
    np.add.at(expected, (first, types[second]), 1)
    assert most_neighbours(atoms.positions, np.asarray(atoms.cell), types, 2, rcut).tolist() == \
        expected.max(axis=0).tolist()
    # without periodic boundaries: the atoms of the frame alone
    atoms.pbc = False
    first, second = ase_neighbours.neighbor_list("ij", atoms, rcut)
    expected = np.zeros((n, 2), dtype=int)
    np.add.at(expected, (first, types[second]), 1)
    assert most_neighbours(atoms.positions, None, types, 2, rcut).tolist() == expected.max(axis=0).tolist()


def test_a_sel_the_data_outgrow_is_warned_of_at_the_dry_run(tmp_path: Path, demo_data: Path, capsys) -> None:
    text = (QUICKSTART.parent / "templates" / "deepmd_se_e2_a_demo.json").read_text()
    assert text.count('"sel": [56, 24]') == 1
    template = tmp_path / "small_sel.json"
    template.write_text(text.replace('"sel": [56, 24]', '"sel": [30, 10]'))
    argv = [str(QUICKSTART), "--set", f"run_dir={tmp_path / 'run'}",
            "--set", f"trainer.settings.train_systems={demo_data / 'train'}",
            "--set", f"trainer.settings.valid_systems={demo_data / 'valid'}"]
    done = dry_run(capsys, *argv, "--set", f"trainer.template={template}")
    assert done.returncode == 0, done.stderr
    lines = [line for line in done.stderr.splitlines() if "sel [30, 10]" in line]
    assert len(lines) == 1, done.stderr
    found = re.search(r"model\.descriptor\.sel \[30, 10\] is below the neighbours within rcut 6 that the training data "
                      r"hold \(\[(\d+), (\d+)\], the most in (\d+) frames sampled\): with --skip-neighbor-stat", lines[0])
    assert found and int(found[1]) > 30 and int(found[2]) > 10 and int(found[3]) == 4, lines[0]
    assert lines[0].startswith(f"hpo-run: warning: {QUICKSTART}: trainer.template: {template} (the space's bounds): ")
    # without the flag DeePMD-kit counts them itself, and each training's shortfall is told
    quiet = dry_run(capsys, *argv, "--set", f"trainer.template={template}",
                    "--set", "trainer.command=[dp, --tf, train, input.json]")
    assert quiet.returncode == 0 and "is below the neighbours" not in quiet.stderr, quiet.stderr
