"""The shipped specs: the paper's setup as published, and the quickstart, both valid."""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from cli_testutil import deepmd_system
from deepmd_testutil import PAPER_SPACE, QUICKSTART, REPO, hpo_run

PAPER = REPO / "configs" / "paper-alcl3-kcl.yaml"


def test_paper_spec_is_table_1_and_section_2() -> None:
    spec = yaml.safe_load(PAPER.read_text())
    space = {name: {k: v for k, v in p.items() if k != "init" or p["type"] != "choice"}
             for name, p in spec["space"].items()}
    expected = {name: {k: v for k, v in p.items()} for name, p in PAPER_SPACE.items()}
    assert list(space) == list(expected)  # the genome order of section 2.2.1
    for name in ("start_lr", "stop_lr", "rcut", "rcut_smth"):
        assert space[name] == expected[name]
    for name, n in (("scale_by_worker", 3), ("desc_activ_func", 5), ("fitting_activ_func", 5)):
        assert spec["space"][name]["init"] == [0.0, float(n)] and space[name]["sigma"] == 0.0625
        assert space[name]["choices"] == expected[name]["choices"]
    assert spec["optimizer"] == {"plugin": "nsga2", "pop_size": 100, "generations": 6, "sigma_decay": 0.85,
                                 "variation": "paper"}
    trainer = spec["trainer"]
    assert trainer["timeout_minutes"] == 120 and trainer["settings"]["numb_steps"] == 40000
    assert spec["report"]["chemical_accuracy"] == {"energy_rmse": 0.004, "force_rmse": 0.04}


def test_paper_spec_dry_run_without_the_users_data() -> None:
    """Valid before the data exist: exit 0, a warning per missing data path."""
    done = hpo_run(str(PAPER), "--dry-run")
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("warning") == 2 and "alcl3-kcl/train does not exist" in done.stderr
    # each names its setting, as the refusal of a run that trains does (it said trainer.settings: helper-121)
    for name, part in (("train_systems", "train"), ("valid_systems", "valid")):
        assert (f"hpo-run: warning: {PAPER}: trainer.settings.{name}: data path "
                f"{PAPER.parent / 'data' / 'alcl3-kcl' / part} does not exist") in done.stderr, done.stderr
    # where a relative path was looked for (a user's mydata/train, written from their shell's cwd)
    assert f"(a relative path is read from the spec file's directory, {PAPER.parent})" in done.stderr
    assert '"neuron": [240, 240, 240]' in done.stdout and '"numb_steps": 40000' in done.stdout
    assert "The spec is valid" in done.stdout


def test_paper_spec_run_without_the_users_data_launches_nothing(tmp_path: Path) -> None:
    """A run that is to train refuses to start: one line naming the path, exit 2, no run
    directory (before, every training was recorded failed and the run directory spent:
    a chemist's data path typo)."""
    run_dir = tmp_path / "run"
    done = hpo_run(str(PAPER), "--set", f"run_dir={run_dir}")
    assert done.returncode == 2, done.stderr
    train = PAPER.parent / "data" / "alcl3-kcl" / "train"
    assert done.stderr.splitlines() == [(
        f"hpo-run: {PAPER}: trainer.settings.train_systems: data path {train} does not exist (a relative path is "
        "read from the "
        f"spec file's directory, {PAPER.parent}): every training would fail, so nothing is launched (--dry-run "
        "checks a spec before its data are in place; data that only the workers' nodes hold: leave its setting "
        "out of trainer.paths)")]
    assert not run_dir.exists() and done.stdout == ""
    # written absolute: where a relative one is read from is not said (a review's)
    valid = deepmd_system(tmp_path / "valid")  # an empty folder is refused for itself
    done = hpo_run(str(PAPER), "--set", f"run_dir={run_dir}", "--set", f"trainer.settings.valid_systems={valid}",
                   "--set", f"trainer.settings.train_systems={tmp_path / 'nowhere'}")
    assert done.returncode == 2 and done.stderr.startswith(
        f"hpo-run: {PAPER}: trainer.settings.train_systems: data path {tmp_path / 'nowhere'} does not exist: every "
        "training would fail"), done.stderr


def test_quickstart_dry_run(demo_data: Path) -> None:
    done = hpo_run(str(QUICKSTART), "--dry-run",
                   "--set", f"trainer.settings.train_systems={demo_data / 'train'}",
                   "--set", f"trainer.settings.valid_systems={demo_data / 'valid'}")
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert f'"systems": ["{demo_data / "train"}"]' in done.stdout
    spec = yaml.safe_load(QUICKSTART.read_text())
    # sel of the demo template counts neighbours within 6 A: rcut may never exceed it
    assert spec["space"]["rcut"]["bounds"][1] <= 6.0
    assert spec["constraints"] == ["stop_lr < start_lr", "rcut_smth < rcut"]
    assert spec["report"]["chemical_accuracy"] == {"energy_rmse": 0.004, "force_rmse": 0.04}


def test_the_dry_run_renders_a_candidate_that_would_train(demo_data: Path) -> None:
    """With the first candidate of generation 0 infeasible (here rcut > 5 breaks), the input
    shown is the first feasible one's, named: it was the first's, which is never trained."""
    done = hpo_run(str(QUICKSTART), "--dry-run", "--set", "constraints=[rcut < 5.0]",
                   "--set", f"trainer.settings.train_systems={demo_data / 'train'}",
                   "--set", f"trainer.settings.valid_systems={demo_data / 'valid'}")
    assert done.returncode == 0, done.stderr
    rows = [[cell.strip() for cell in line.split("│")] for line in done.stdout.splitlines()
            if line.startswith("│") and line.split("│")[1].strip().isdigit()]
    feasible = [r for r in rows if r[-2] == "-"]
    assert rows[0][-2] == "rcut < 5.0" and feasible, rows  # seed 7: the first breaks it, not all do
    assert f"Input of the first feasible candidate (#{feasible[0][1]}):" in done.stdout, done.stdout
    rendered = json.loads(done.stdout.split("):", 1)[1].split("The spec is valid", 1)[0])
    assert rendered["model"]["descriptor"]["rcut"] < 5.0
