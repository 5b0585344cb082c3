"""The local Dask cluster's options ``dashboard`` and ``local_directory`` (helper-62's
review): real hpo-run, real LocalCluster, Dask's real dashboard served on loopback."""

from __future__ import annotations

import re
import urllib.request
from pathlib import Path

import pytest
from launchers_testutil import assert_every_evaluation_once, run_in_process, write_spec

from dnnp_hpo.errors import LaunchFailed, SpecError
from dnnp_hpo.hookspecs import hookimpl
from dnnp_hpo.notice import LOG_NAME


class DashboardVisitor:
    """Observer: opens the dashboard the launcher announced while evaluations return."""

    def __init__(self) -> None:
        self.link: str | None = None
        self.page = ""

    @hookimpl
    def dnnp_hpo_evaluation_finished(self, run, evaluation) -> None:
        if self.link is None:
            found = re.search(r"dask: dashboard at (\S+)", (run.run_dir / LOG_NAME).read_text())
            assert found, "no dashboard link in launcher.log"
            self.link = found.group(1)
            with urllib.request.urlopen(self.link, timeout=30) as page:  # loopback only
                self.page = page.read().decode()


def test_the_dashboard_is_announced_and_served(tmp_path: Path, capfd) -> None:
    """dashboard: true put it on a free port and never said which; without bokeh its
    page only said "Dask needs bokeh"."""
    pytest.importorskip("bokeh", reason="the test extra installs bokeh")
    visitor = DashboardVisitor()
    spec = write_spec(tmp_path / "dash.yaml", pop_size=2, generations=0,
                      launcher={"plugin": "dask", "workers": 1, "dashboard": True})
    run_dir = run_in_process(spec, extra_plugins=(visitor,))
    assert_every_evaluation_once(run_dir, 2)
    assert visitor.link and visitor.link.startswith("http://127.0.0.1:") and visitor.link.endswith("/status")
    assert "Dask Diagnostic UI" in visitor.page and "needs bokeh" not in visitor.page
    assert f"hpo-run: dask: dashboard at {visitor.link}" in capfd.readouterr().err


def test_the_dashboard_without_bokeh_is_refused_at_the_spec_check(tmp_path: Path, monkeypatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "bokeh", None)  # as on a machine without it
    spec = write_spec(tmp_path / "dash.yaml", launcher={"plugin": "dask", "workers": 1, "dashboard": True})
    with pytest.raises(SpecError) as info:
        run_in_process(spec)
    assert info.value.key == "launcher.dashboard"
    assert info.value.message.startswith("Dask's dashboard needs bokeh, which is not installed here")
    assert not (tmp_path / "run").exists()


def test_a_local_directory_that_cannot_be_made_is_one_line(tmp_path: Path) -> None:
    """An OSError from inside LocalCluster was an internal error (exit 4, a traceback)."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    spec = write_spec(tmp_path / "scratch.yaml", launcher={"plugin": "dask", "workers": 1,
                                                           "local_directory": str(blocker / "scratch")})
    with pytest.raises(SpecError) as info:  # seen at the spec check: the place is a file
        run_in_process(spec)
    assert info.value.key == "launcher.local_directory"
    assert info.value.message == f"cannot write in {blocker / 'scratch'}: Not a directory"


def test_a_local_directory_refused_only_when_made_is_one_line(tmp_path: Path, monkeypatch) -> None:
    """What the spec check cannot see (as root every access check passes: /proc/x) is
    the launch's line, exit 3, naming the key."""
    from dnnp_hpo.plugins.launchers import dask_launcher

    monkeypatch.setattr(dask_launcher, "check_writable", lambda *args: None)  # as root would pass it
    spec = write_spec(tmp_path / "scratch.yaml", launcher={"plugin": "dask", "workers": 1,
                                                           "local_directory": str(tmp_path / "f" / "scratch")})
    (tmp_path / "f").write_text("")
    with pytest.raises(LaunchFailed, match=rf"^launcher.local_directory: cannot create {tmp_path / 'f' / 'scratch'}: "
                                           "Not a directory$"):
        run_in_process(spec)


def test_workers_start_without_a_dashboard_of_their_own(tmp_path: Path, worker_env) -> None:
    """With bokeh installed (the dashboard extra), LocalCluster gave each worker a bokeh
    dashboard of its own, about a second of CPU per worker at every start (the test suite
    took 5 minutes longer); the scheduler's dashboard is the one hpo-run serves."""
    import json
    import subprocess

    import hpo_launcher_helpers as helpers
    from launchers_testutil import VENV_BIN

    pytest.importorskip("bokeh", reason="the test extra installs bokeh")
    noted = tmp_path / "modules.jsonl"
    for dashboard in (False, True):
        spec = write_spec(tmp_path / f"modules-{dashboard}.yaml", pop_size=2, generations=0,
                          trainer={"plugin": "function", "callable": "hpo_launcher_helpers:modules_zdt1"},
                          launcher={"plugin": "dask", "workers": 1, "dashboard": dashboard})
        done = subprocess.run([str(VENV_BIN / "hpo-run"), str(spec), "--set", f"run_dir={tmp_path / str(dashboard)}"],
                              cwd=tmp_path, env={**worker_env, helpers.MODULES_VARIABLE: str(noted)},
                              capture_output=True, text=True, timeout=120, check=False)
        assert done.returncode == 0, done.stderr
    assert [json.loads(line) for line in noted.read_text().splitlines()] == [{"bokeh": False}] * 4
