"""``hpo-demo-data`` writes the demo frames as extended XYZ too, for NequIP (ASE readers)."""

from __future__ import annotations

from pathlib import Path

import ase.io
import numpy as np
from nequip_testutil import VENV_BIN, run_exe


def test_extxyz_holds_the_same_frames_as_the_deepmd_systems(nequip_demo_data: Path) -> None:
    for name, count in (("train", 30), ("valid", 10)):
        frames = ase.io.read(nequip_demo_data / f"{name}.extxyz", index=":")
        sets = nequip_demo_data / name / "set.000"
        assert len(frames) == count
        type_map = (nequip_demo_data / name / "type_map.raw").read_text().split()
        types = np.loadtxt(nequip_demo_data / name / "type.raw", dtype=int)
        energies, forces = np.load(sets / "energy.npy"), np.load(sets / "force.npy").reshape(count, -1, 3)
        coords, boxes = np.load(sets / "coord.npy").reshape(count, -1, 3), np.load(sets / "box.npy")
        for i, atoms in enumerate(frames):
            assert atoms.get_chemical_symbols() == [type_map[t] for t in types]
            assert atoms.pbc.all()
            assert np.allclose(atoms.cell.array.ravel(), boxes[i])
            assert np.allclose(atoms.positions, coords[i])
            assert np.isclose(atoms.get_potential_energy(), energies[i])
            assert np.allclose(atoms.get_forces(), forces[i])


def test_if_missing_adds_extxyz_to_an_older_dataset(tmp_path: Path) -> None:
    exe = str(VENV_BIN / "hpo-demo-data")
    out = tmp_path / "data"
    assert run_exe([exe, str(out), "--frames", "8", "--seed", "2"]).returncode == 0
    made = {name: (out / f"{name}.extxyz").read_bytes() for name in ("train", "valid")}
    for name in made:
        (out / f"{name}.extxyz").unlink()  # as a dataset made before the extxyz copies existed
    kept = run_exe([exe, str(out), "--if-missing"])
    # says what it added (it said "kept as is" alone while writing both: helper-123)
    assert kept.returncode == 0 and kept.stdout.rstrip().endswith(
        "already holds the demo dataset; kept as is; added train.extxyz and valid.extxyz, the copies NequIP reads")
    assert {name: (out / f"{name}.extxyz").read_bytes() for name in made} == made
    # one missing: that one is written, the other left as it is
    (out / "valid.extxyz").unlink()
    train = (out / "train.extxyz").stat().st_mtime_ns
    kept = run_exe([exe, str(out), "--if-missing"])
    assert kept.returncode == 0 and kept.stdout.rstrip().endswith("kept as is; added valid.extxyz, the copy NequIP reads")
    assert (out / "valid.extxyz").read_bytes() == made["valid"]
    assert (out / "train.extxyz").stat().st_mtime_ns == train
    assert not list(out.glob(".*partial"))
