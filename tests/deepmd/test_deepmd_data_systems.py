"""Data directories that hold no DeePMD-kit system, systems without frames, type numbers
past the type_map, validation elements never trained on (helper-121, a user's own data).

DeePMD-kit skipped a directory without a system among other paths without a word (the run
trained on half its data), and refused the others in every training after --dry-run had
called the spec valid: hpo-run refuses them at start-up in one line, exit 2, nothing
made; the validation elements are a warning (the run is what was asked for, and misleads).
Real quickstart spec, real demo data (copied and broken), DeePMD-kit's argcheck."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from deepmd_testutil import QUICKSTART, dry_run

pytest.importorskip("deepmd.utils.argcheck")


def _dry_run(capsys, tmp_path: Path, train: Path | str, valid: Path, spec: Path = QUICKSTART, *extra: str):
    return dry_run(capsys, str(spec), "--set", f"run_dir={tmp_path / 'run'}",
                   "--set", f"trainer.settings.train_systems={train}",
                   "--set", f"trainer.settings.valid_systems={valid}", *extra)


def _refused(done, tmp_path: Path, key: str) -> str:
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(f"hpo-run: {QUICKSTART}: {key}: "), done.stderr
    assert not (tmp_path / "run").exists()
    return done.stderr


def test_a_directory_without_a_system_is_refused(tmp_path: Path, demo_data: Path, capsys) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    said = _refused(_dry_run(capsys, tmp_path, empty, demo_data / "valid"), tmp_path, "trainer.settings.train_systems")
    assert (f"training.training_data.systems: {empty} holds no DeePMD-kit system (no type.raw in it or below it, "
            "but for linked folders, which DeePMD-kit does not go into), so DeePMD-kit would leave it out: a system "
            "is a directory with type.raw and set.*/ of frames") in said
    frames = demo_data / "valid" / "set.000"
    said = _refused(_dry_run(capsys, tmp_path, demo_data / "train", frames), tmp_path, "trainer.settings.valid_systems")
    assert said.rstrip().endswith(f"{frames} holds no DeePMD-kit system (no type.raw in it or below it, but for "
                                  "linked folders, which DeePMD-kit does not go into), so DeePMD-kit would leave it "
                                  f"out: it is a set of frames of the system {demo_data / 'valid'}: give the "
                                  "system's directory"), said


def test_a_system_without_frames_is_refused(tmp_path: Path, demo_data: Path, capsys) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(demo_data / "train", raw)
    for frames in raw.glob("set.*"):
        for array in frames.iterdir():
            array.rename(raw / array.name)  # the arrays at the top: no set.000
        frames.rmdir()
    said = _refused(_dry_run(capsys, tmp_path, raw, demo_data / "valid"), tmp_path, "trainer.settings.train_systems")
    assert (f"the system {raw} has no set.* directory of frames, which DeePMD-kit refuses (\"No set.* is found\"), "
            "so every training would fail: convert it to dpdata's deepmd/npy format") in said, said


def test_a_type_number_past_the_type_map_is_refused(tmp_path: Path, demo_data: Path, capsys) -> None:
    """Without type_map.raw, type.raw's numbers index model.type_map: one past its end
    failed every training with "Cannot feed value of shape (4,) for Tensor t_natoms:0"."""
    numbered = tmp_path / "numbered"
    shutil.copytree(demo_data / "train", numbered)
    (numbered / "type_map.raw").unlink()
    assert _dry_run(capsys, tmp_path, numbered, demo_data / "valid").returncode == 0  # types 0 and 1: Al, Cu
    types = (numbered / "type.raw").read_text().split()
    (numbered / "type.raw").write_text("\n".join(["2", *types[1:]]) + "\n")
    said = _refused(_dry_run(capsys, tmp_path, numbered, demo_data / "valid"), tmp_path, "trainer.template")
    assert (f"model.type_map ['Al', 'Cu'] names 2 element(s), and {numbered / 'type.raw'} numbers an atom's type 2 "
            "(types count from 0, one per element of type_map), with no type_map.raw beside it to name them: list "
            "every element of the data in model.type_map, in the order of its type numbers") in said, said


def test_validation_elements_never_trained_on_are_warned_about(tmp_path: Path, demo_data: Path, capsys) -> None:
    paper = QUICKSTART.parent / "paper-alcl3-kcl.yaml"
    other = tmp_path / "valid"
    shutil.copytree(demo_data / "valid", other)
    (other / "type_map.raw").write_text("Al\nNi\n")  # its Cu atoms now Ni
    done = _dry_run(capsys, tmp_path, demo_data / "train", other, paper, "--set", "trainer.settings.type_map=[Al, Cu, Ni]")
    assert done.returncode == 0, done.stderr
    assert ("the validation systems hold Ni, which no training system does: the objectives would rank the models "
            "on errors for atoms they were never trained on") in done.stderr, done.stderr
    quiet = _dry_run(capsys, tmp_path, demo_data / "train", demo_data / "valid", paper, "--set",
                     "trainer.settings.type_map=[Al, Cu, Ni]")
    assert quiet.returncode == 0 and "never trained on" not in quiet.stderr, quiet.stderr


def test_data_the_checks_cannot_look_into_pass_and_warn_of_nothing(tmp_path: Path, demo_data: Path, capsys) -> None:
    """What DeePMD-kit reads and these checks cannot walk is left to it, and known
    elements are not judged from part of the data (helper-122): an HDF5 file (empty here:
    nothing opens it at start-up), an LMDB dataset (``*.lmdb``, or a folder holding
    data.mdb, DeePMD-kit's ``is_lmdb``), a mixed-type system (its types in
    set.*/real_atom_types.npy), among the demo's Al-Cu systems; validation data holding Ni."""
    template = tmp_path / "listed.json"
    text = (QUICKSTART.parent / "templates" / "deepmd_se_e2_a_demo.json").read_text()
    assert text.count('["${train_systems}"]') == 1
    assert text.count('"sel": [56, 24]') == 1
    template.write_text(text.replace('["${train_systems}"]', "$train_systems").replace('"Al", "Cu"', '"Al", "Cu", "Ni"')
                        .replace('"sel": [56, 24]', '"sel": [56, 24, 8]'))
    h5 = tmp_path / "more.h5"
    h5.write_bytes(b"")
    lmdb = tmp_path / "more.lmdb"
    lmdb.mkdir()
    mdb = tmp_path / "stored"
    mdb.mkdir()
    (mdb / "data.mdb").write_bytes(b"")
    mixed = tmp_path / "mixed"
    shutil.copytree(demo_data / "train", mixed)
    (mixed / "type.raw").write_text("0\n" * len((mixed / "type.raw").read_text().split()))
    (mixed / "set.000" / "real_atom_types.npy").write_bytes(b"")
    nickel = tmp_path / "valid"
    shutil.copytree(demo_data / "valid", nickel)
    (nickel / "type_map.raw").write_text("Al\nNi\n")
    for extra in (h5, f"{h5}#/AlNi", lmdb, mdb, mixed):
        done = _dry_run(capsys, tmp_path, f"[{demo_data / 'train'}, {extra}]", nickel, QUICKSTART,
                        "--set", f"trainer.template={template}")
        assert done.returncode == 0, done.stderr
        assert "never trained on" not in done.stderr and "DeePMD-kit system" not in done.stderr, done.stderr
    # the same data without the one it cannot look into: Ni is known to be untrained
    done = _dry_run(capsys, tmp_path, f"[{demo_data / 'train'}]", nickel, QUICKSTART,
                    "--set", f"trainer.template={template}")
    assert done.returncode == 0, done.stderr
    assert (f"hpo-run: warning: {QUICKSTART}: trainer.settings.valid_systems: {template}: the validation systems "
            "hold Ni, which no training system does") in done.stderr, done.stderr
