"""Helpers of the launcher tests: spec writing, in-process runs, checks of a run's records.

A module of its own (not conftest.py): test files import it by a name no other test
folder uses, so any order of test paths on one pytest command line imports the right one.
"""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence
from pathlib import Path

from dnnp_hpo.specfile import dump_yaml

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
VENV_BIN = Path(sys.executable).parent
STANDINS_BIN = REPO / "tests" / "standins" / "bin"

ZDT1_SPACE = {f"x{i}": {"type": "float", "init": [0.0, 1.0], "sigma": 0.1} for i in range(7)}


def write_spec(path: Path, *, launcher: dict, trainer: dict | None = None, pop_size: int = 8,
               generations: int = 2, seed: int = 7, run_dir: Path | None = None,
               optimizer: dict | None = None) -> Path:
    """A ZDT1 experiment spec with the given launcher block (and optimizer block)."""
    spec = {
        "name": path.stem, "seed": seed,
        "run_dir": str(run_dir or path.parent / f"run-{path.stem}"),
        "space": ZDT1_SPACE,
        "objectives": [{"name": "f1"}, {"name": "f2"}],
        "trainer": trainer or {"plugin": "function", "callable": "dnnp_hpo.problems:zdt1"},
        "optimizer": optimizer or {"plugin": "nsga2", "pop_size": pop_size, "generations": generations},
        "launcher": launcher,
    }
    path.write_text(dump_yaml(spec), encoding="utf-8")
    return path


def run_in_process(spec: Path, extra_plugins: Sequence[object] = ()) -> Path:
    """Validate and run ``spec`` here (as ``hpo-run`` does), with extra test plugins; the run dir."""
    from dnnp_hpo.driver import execute, prepare_run
    from dnnp_hpo.registry import load_registry

    registry = load_registry(tuple(extra_plugins))
    run, trainer = prepare_run(spec, registry)
    execute(run, trainer, registry)
    return run.run_dir


def read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def final_population(run_dir: Path) -> list[tuple[str, ...]]:
    """pop.csv's last generation as (genes..., f1, f2), in file order."""
    rows = read_csv(run_dir / "pop.csv")
    last = max(int(r["pop_generation"]) for r in rows)
    return [tuple(r[k] for k in (*ZDT1_SPACE, "f1", "f2")) for r in rows if int(r["pop_generation"]) == last]


def assert_every_evaluation_once(run_dir: Path, expected: int) -> list[dict[str, str]]:
    """individuals.csv has one row per evaluation: none missing, none duplicated."""
    rows = read_csv(run_dir / "individuals.csv")
    births = sorted(int(r["birth_id"]) for r in rows)
    assert births == list(range(expected)), f"birth ids recorded: {births}"
    assert len({r["uuid"] for r in rows}) == expected
    return rows
