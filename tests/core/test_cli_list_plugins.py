"""``hpo-run --list-plugins`` is given alone: with a spec or another option it was run and
the rest ignored (exit 0), as if the spec had been checked and passed."""

from __future__ import annotations

import pytest
from cli_testutil import hpo_run


@pytest.mark.parametrize(("args", "got"), [
    (["--list-plugins", "nonexist.yaml", "--set", "bad"], "a spec, --set"),
    (["spec.yaml", "--list-plugins"], "a spec"),
    (["--list-plugins", "--dry-run"], "--dry-run"),
    (["--list-plugins", "--resume", "--force"], "--resume, --force"),
])
def test_list_plugins_with_anything_else_is_one_line_exit_2(tmp_path, args, got):
    done = hpo_run(*args, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == (f"hpo-run: --list-plugins takes no spec and no other option (got {got}): it lists the "
                           "plugins and checks nothing; run it alone (see hpo-run --help)\n")
    assert done.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_list_plugins_alone_lists_them(tmp_path):
    done = hpo_run("--list-plugins", cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "dnnp-hpo plugins" in done.stdout and "nsga2" in done.stdout and done.stderr == ""


def test_an_empty_spec_path_is_said_so(tmp_path):
    """`hpo-run "$SPEC"` with SPEC unset: Path('') is '.', and the line said ".: cannot read
    it: a directory, not a file" (helper-110)."""
    done = hpo_run("", cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr == "hpo-run: argument spec: an empty path: give the experiment spec (YAML) (see hpo-run --help)\n"
    assert list(tmp_path.iterdir()) == []
