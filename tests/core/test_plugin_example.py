"""The trainer example of docs/plugins.md, as printed there, installed and run.

The code block is read from the page verbatim (it returns what its program printed: no
placeholder to fill in), installed as a distribution with its entry point
(test_registry.distribution), and driven by the real hpo-run on local Dask, with a real
``mycode-train`` program on PATH; and without one, which the policy says is a failed
training, not a crash.  The keys the page says it takes are the keys it takes, checked.
"""

from __future__ import annotations

import os
import re
import stat
import sys
from pathlib import Path

import pytest
from cli_testutil import write_spec
from test_registry import distribution, hpo_run_with

from dnnp_hpo.journal import Journal

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
# What the made-up code prints: "energy_rmse force_rmse", the example's read_errors reads them.
MYCODE_TRAIN = f"""#!{sys.executable}
import pathlib, sys
lr = float(pathlib.Path(sys.argv[1]).read_text().split()[1])
print(f"{{lr / 10}} {{lr * 2}}")
"""


def example_source() -> str:
    block = re.search(r"```python\n(# mycode_hpo/plugin.py\n.*?)```", DOC.read_text(), re.DOTALL)
    assert block, "docs/plugins.md lost its trainer example"
    source = block.group(1)
    assert ": ...," not in source and "return ..." not in source, "a copy of the example must run as it is"
    return source


def spec(tmp_path: Path, **trainer) -> Path:
    return write_spec(tmp_path / "spec.yaml", {
        "name": "mycode", "seed": 3, "run_dir": str(tmp_path / "run"),
        "space": {"lr": {"type": "float", "init": [0.001, 0.01], "sigma": 0.001}},
        "objectives": [{"name": "energy_rmse"}, {"name": "force_rmse"}],
        # the block the page shows: trainer: {plugin: mycode, input: in.yaml, timeout_minutes: 30}
        "trainer": {"plugin": "mycode", "input": "in.yaml", "timeout_minutes": 30, **trainer},
        "optimizer": {"plugin": "nsga2", "pop_size": 4, "generations": 1},
        "launcher": {"plugin": "dask", "workers": 1},
    })


def install_example(tmp_path: Path) -> Path:
    site = distribution(tmp_path / "site", "mycode-hpo", {"mycode": "mycode_hpo.plugin"})
    (site / "mycode_hpo").mkdir()
    (site / "mycode_hpo" / "__init__.py").write_text("")
    (site / "mycode_hpo" / "plugin.py").write_text(example_source())
    return site


def run_example(tmp_path: Path, path: str):
    # PATH without this venv's bin: what is found is what the test put there
    return hpo_run_with(install_example(tmp_path), str(spec(tmp_path)), cwd=tmp_path, timeout=300,
                        env={"PATH": path})


def evaluations(tmp_path: Path):
    journal = Journal.of(tmp_path / "run")
    try:
        return journal.evaluations()
    finally:
        journal.close()


def test_the_example_trainer_runs_a_search(tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    program = tools / "mycode-train"
    program.write_text(MYCODE_TRAIN)
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    done = run_example(tmp_path, f"{tools}{os.pathsep}/usr/bin:/bin")
    assert done.returncode == 0, done.stderr
    recorded = evaluations(tmp_path)
    assert len(recorded) == 8 and all(e.ok for e in recorded)
    for e in recorded:
        assert e.fitness == (e.trial.params["lr"] / 10, e.trial.params["lr"] * 2)
        # the input went where the block's input key says, and the program read it
        assert (e.trial.workdir / "in.yaml").read_text() == f"lr: {e.trial.params['lr']}\nseed: {e.trial.seed}\n"


@pytest.mark.parametrize("trainer, line", [
    ({"timeout_minutes": 0}, "trainer.timeout_minutes: expected a positive number of minutes, got 0.0"),
    ({"timeout_minutes": -5}, "trainer.timeout_minutes: expected a positive number of minutes, got -5.0"),
    ({"command": []}, "trainer.command: expected at least the program to run, got []"),
    ({"command": [""]}, "trainer.command: expected at least the program to run, got ['']"),
])
def test_the_example_refuses_a_bad_block_in_one_line(tmp_path, trainer, line):
    path = spec(tmp_path, **trainer)
    done = hpo_run_with(install_example(tmp_path), str(path), "--dry-run", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"hpo-run: {path}: {line}"]
    assert not (tmp_path / "run").exists()


def test_without_its_program_every_training_fails_with_the_reason_and_the_run_ends(tmp_path):
    done = run_example(tmp_path, "/usr/bin:/bin")
    # It runs to its end (the failure policy), then says nothing succeeded: exit 1.
    assert done.returncode == 1, done.stderr
    assert "no evaluation succeeded (final population: 4 of 4 failed: cannot start 'mycode-train'" in done.stderr
    # said at start-up too, before a training failed (helper-79: the example did not look)
    assert done.stderr.splitlines()[0] == (
        f"hpo-run: warning: {tmp_path / 'spec.yaml'}: trainer.command: 'mycode-train' is not on this host's PATH "
        "(nor next to its Python); every training will fail unless the workers find it"), done.stderr
    recorded = evaluations(tmp_path)
    assert len(recorded) == 8
    assert {e.status for e in recorded} == {"failed"}
    assert all(e.reason.startswith("cannot start 'mycode-train'") for e in recorded)
    assert all(e.fitness == (2147483647.0, 2147483647.0) for e in recorded)
