"""Which dnnp-hpo a user runs, and which one started a run: ``--version`` on every
command (it was refused as an unrecognised argument), and the journal's ``versions``,
which the refusal of a resume by another version names (helper-123: the refusal said
"resume it with those versions", and nothing recorded them)."""

from __future__ import annotations

import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from hpo_testutil import write_spec, zdt_spec

from dnnp_hpo.cli import main
from dnnp_hpo.journal import Journal

BIN = Path(sys.executable).parent


@pytest.mark.parametrize("command", ["hpo-run", "hpo-report", "hpo-demo-data"])
def test_every_command_says_its_version(command, tmp_path) -> None:
    done = subprocess.run([str(BIN / command), "--version"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (0, f"{command} (dnnp-hpo {version('dnnp-hpo')})\n", "")
    assert not list(tmp_path.iterdir())


def test_a_run_records_the_versions_that_started_it(tmp_path, capsys) -> None:
    spec = write_spec(tmp_path / "spec.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=0))
    assert main([str(spec)]) == 0, capsys.readouterr().err
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        # every plugin of this run is dnnp-hpo's own (function trainer, nsga2, dask)
        assert journal.meta("versions") == {"dnnp-hpo": version("dnnp-hpo")}
