"""The training command of a command trainer (core/training.py), as every trainer plugin
built on it gets it: an empty program is refused when the spec is read, an absolute path
that is not there is said to be missing, and run_training never fails with an IndexError."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_yaml_floats import spec_text

from dnnp_hpo.cli import main
from dnnp_hpo.errors import TrainingFailed
from dnnp_hpo.training import run_training


def test_an_absolute_program_that_does_not_exist_is_said_to_be_missing(tmp_path, capsys):
    path = spec_text(tmp_path)
    status = main([str(path), "--dry-run", "--set", "trainer.command=[/nonexistent/dp, train, input.json]"])
    err = capsys.readouterr().err
    assert status == 0, err
    warnings = [line for line in err.splitlines() if "trainer.command" in line]
    # it was "is not on this host's PATH", which an absolute path is never looked up on
    assert warnings == [(f"hpo-run: warning: {path}: trainer.command: '/nonexistent/dp' does not exist on this "
                        "host; every training will fail unless it exists where the workers run")]


@pytest.mark.parametrize("command", ["['']", "['  ', train]"])
def test_an_empty_program_is_refused_when_the_spec_is_read(tmp_path, capsys, command):
    path = spec_text(tmp_path)
    assert main([str(path), "--dry-run", "--set", f"trainer.command={command}"]) == 2
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"hpo-run: {path}: trainer.command: expected the program "
                                                   "to run first, got "), lines
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("command, prefix", [((), ()), ((), ("srun",)), (("",), ())])
def test_run_training_refuses_an_empty_command_in_one_line(tmp_path: Path, command, prefix):
    """A trainer that does not validate its command (one not built on CommandTrainer) got an
    IndexError, recorded for every candidate as a bug of dnnp-hpo."""
    with pytest.raises(TrainingFailed) as info:
        run_training(command, prefix, {}, 1.0, tmp_path, tmp_path / "out", tmp_path / "err")
    assert info.value.status == "error"
    assert info.value.reason.startswith("the training command is empty: expected at least the program to run")


def test_a_failure_under_a_launch_prefix_names_the_launcher(tmp_path: Path):
    """A launcher (srun, jsrun) that fails before the program starts exits with its own
    status: the reason said "dp exited with status 1: srun: --ntasks: invalid number", which
    sent the user to look at dp.  Real processes: the prefix is a Python that fails."""
    import sys

    launcher = [sys.executable, "-c", "import sys; sys.exit('srun: --ntasks: invalid number $NTASKS')"]
    with pytest.raises(TrainingFailed) as info:
        run_training(["dp", "train", "input.json"], launcher, {}, 1.0, tmp_path, tmp_path / "out", tmp_path / "err")
    assert info.value.reason.startswith(f"dp (started by {Path(sys.executable).name}) exited with status 1: "
                                        "srun: --ntasks: invalid number $NTASKS"), info.value.reason
    with pytest.raises(TrainingFailed) as info:  # and without one, the program itself
        run_training([sys.executable, "-c", "raise SystemExit(3)"], [], {}, 1.0, tmp_path, tmp_path / "o", tmp_path / "e")
    assert info.value.reason.startswith(f"{sys.executable} exited with status 3"), info.value.reason
