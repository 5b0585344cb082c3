"""Data whose elements the template's model.type_map lacks: DeePMD-kit refuses them
("Elements ['Ni'] are not present in the provided type_map"), so hpo-run refuses the spec
at start-up, --dry-run included, instead of failing every training of the run."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from deepmd_testutil import QUICKSTART, hpo_run

pytest.importorskip("deepmd.utils.argcheck")


def _dry_run(tmp_path: Path, data: Path):
    return hpo_run(str(QUICKSTART), "--dry-run", "--set", f"run_dir={tmp_path / 'run'}",
                   "--set", f"trainer.settings.train_systems={data / 'train'}",
                   "--set", f"trainer.settings.valid_systems={data / 'valid'}", cwd=tmp_path)


def test_data_with_an_element_the_type_map_lacks_is_refused_at_the_dry_run(tmp_path: Path, demo_data: Path) -> None:
    assert _dry_run(tmp_path, demo_data).returncode == 0  # the data as made: Al and Cu, as the template
    data = tmp_path / "data"
    shutil.copytree(demo_data, data)
    (data / "valid" / "type_map.raw").write_text("Ni\nCu\n")
    done = _dry_run(tmp_path, data)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert (f"model.type_map ['Al', 'Cu'] lacks Ni, an element of the data in training.validation_data.systems "
            f"({data / 'valid' / 'type_map.raw'}: Ni Cu), which DeePMD-kit refuses: list every element of the data "
            "in model.type_map") in done.stderr, done.stderr
    assert done.stderr.startswith(f"hpo-run: {QUICKSTART}: trainer.template: "), done.stderr
    assert not (tmp_path / "run").exists()


def test_a_directory_of_systems_is_looked_into(tmp_path: Path, demo_data: Path) -> None:
    """``systems`` may name a directory holding systems (DeePMD-kit looks for them below)."""
    data = tmp_path / "data"
    shutil.copytree(demo_data / "train", data / "train" / "melt" / "Al-Ni")
    shutil.copytree(demo_data / "valid", data / "valid")
    (data / "train" / "melt" / "Al-Ni" / "type_map.raw").write_text("Al\nNi\n")
    done = _dry_run(tmp_path, data)
    assert done.returncode == 2 and "lacks Ni, an element of the data in training.training_data.systems" in done.stderr


def test_a_type_map_a_setting_gives_names_that_setting(tmp_path: Path, demo_data: Path) -> None:
    """The paper's spec gives type_map as a setting ($type_map): pointed at the demo data
    (Al, Cu) the refusal named trainer.template, while the fix is the setting (a review's)."""
    paper = QUICKSTART.parent / "paper-alcl3-kcl.yaml"
    done = hpo_run(str(paper), "--dry-run", "--set", f"run_dir={tmp_path / 'run'}",
                   "--set", f"trainer.settings.train_systems={demo_data / 'train'}",
                   "--set", f"trainer.settings.valid_systems={demo_data / 'valid'}", cwd=tmp_path)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"hpo-run: {paper}: trainer.settings.type_map: "), done.stderr
    assert ("model.type_map ['Al', 'Cl', 'K'] (from $type_map) lacks Cu, an element of the data in "
            "training.training_data.systems") in done.stderr, done.stderr
    assert done.stderr.rstrip().endswith("list every element of the data in trainer.settings.type_map"), done.stderr
    fixed = hpo_run(str(paper), "--dry-run", "--set", f"run_dir={tmp_path / 'run'}",
                    "--set", f"trainer.settings.train_systems={demo_data / 'train'}",
                    "--set", f"trainer.settings.valid_systems={demo_data / 'valid'}",
                    "--set", "trainer.settings.type_map=[Al, Cu]", cwd=tmp_path)
    assert fixed.returncode == 0, fixed.stderr
