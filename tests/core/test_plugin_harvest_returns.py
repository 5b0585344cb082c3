"""A trainer's ``harvest`` that returns what is no metrics (a list, a runtime that is no
number) on resume: treated as one that raises (warned of once, its trainings run again),
not an AttributeError that stopped every resume with exit 4.

The trainer is a real installed distribution (test_registry.distribution) run by the real
hpo-run console script.  Its first run dies as a driver does when it is killed: the
training SIGKILLs the driver (its worker's parent), then ends its own process before the
worker writes an outcome; so the resumed run finds both births running with no outcome in
their directories, and asks the trainer's ``harvest``.  Each of the returns is read by the
Study in-process; one of them goes through the killed run and its resume.
"""

from __future__ import annotations

import importlib.util

import pytest
from cli_testutil import write_spec, zdt_spec
from test_registry import distribution, hpo_run_with

from dnnp_hpo.driver import prepare_run
from dnnp_hpo.evaluation import OUTCOME
from dnnp_hpo.journal import Journal
from dnnp_hpo.registry import load_registry
from dnnp_hpo.study import Study

HARVESTING_TRAINER = '''\
import os
import signal

import attrs
from dnnp_hpo.evaluation import make_workdir
from dnnp_hpo.hookspecs import hookimpl

RETURNS = {
    "list": ["x"],
    "text-runtime": {"f1": 1.0, "f2": 2.0, "runtime": "abc"},
    "text-metric": {"f1": "0.5", "f2": True},
    "number": 3.5,
}


@attrs.frozen
class Harvesting:
    returns: str = "list"

    def prepare(self, run):
        return self

    def render(self, trial):
        return None

    def train(self, trial):
        workdir = make_workdir(trial)
        if os.environ.get("HARVEST_TEST_KILL_DRIVER"):
            # the driver dies while this training runs, and so does its worker: no outcome
            (workdir / "killed").write_text("")
            os.kill(os.getppid(), signal.SIGKILL)
            os._exit(1)
        (workdir / "trained").write_text("")
        return {"f1": 0.5, "f2": 0.25}

    def harvest(self, trial):
        return RETURNS[self.returns]


@hookimpl
def dnnp_hpo_trainers():
    return {"harvesting": Harvesting}
'''


def _warning(shown: str) -> str:
    return (f"hpo-run: warning: Harvesting.harvest returned {shown}: expected a mapping of metric names to numbers, "
            "or None; its trainings are run again")


@pytest.mark.parametrize("returns, shown", [
    ("list", "['x']"),
    ("text-runtime", "{'f1': 1.0, 'f2': 2.0, 'runtime': 'abc'}"),
    ("text-metric", "{'f1': '0.5', 'f2': True}"),  # read as 0.5 and 1.0 before, as train()'s were
    ("number", "3.5"),
])
def test_what_a_harvest_returns_that_is_no_metrics_is_warned_once(tmp_path, capsys, returns, shown):
    """The Study that a resume drives, asked for two births the trainer's harvest reads:
    neither is taken as harvested (``_harvest`` gives None, so the resume trains it again:
    the test below runs that end to end for one of these returns), and the harvest is
    warned of once."""
    site = distribution(tmp_path / "site", "harvesting-hpo", {"harvesting": "harvesting_plugin"},
                        "harvesting_plugin", HARVESTING_TRAINER)
    found = importlib.util.spec_from_file_location("harvesting_plugin", site / "harvesting_plugin.py")
    plugin = importlib.util.module_from_spec(found)
    found.loader.exec_module(plugin)
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", n=2, pop_size=2, generations=0))
    run, _ = prepare_run(spec, load_registry())
    study = Study(run, plugin.Harvesting(returns=returns), pool=None)
    trials = [study.trial(genome, 0) for genome in ((0.25, 0.5), (0.75, 0.5))]
    assert [study._harvest(trial) for trial in trials] == [None, None]
    assert capsys.readouterr().err.splitlines() == [_warning(shown)]


@pytest.mark.parametrize("returns, shown", [("list", "['x']")])
def test_a_harvest_that_returns_no_metrics_is_warned_once_and_its_trainings_run_again(tmp_path, returns, shown):
    site = distribution(tmp_path / "site", "harvesting-hpo", {"harvesting": "harvesting_plugin"},
                        "harvesting_plugin", HARVESTING_TRAINER)
    spec = zdt_spec(tmp_path / "run", n=2, pop_size=2, generations=0)
    spec["trainer"] = {"plugin": "harvesting", "returns": returns}
    path = str(write_spec(tmp_path / "s.yaml", spec))

    killed = hpo_run_with(site, path, cwd=tmp_path, env={"HARVEST_TEST_KILL_DRIVER": "1"})
    assert killed.returncode == -9, killed.stderr
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        running = journal.running()
    # both births sent out, the first one's training under way, neither one's outcome left
    assert sorted(t.birth_id for t in running) == [0, 1]
    assert (running[0].workdir / "killed").exists() or (running[1].workdir / "killed").exists()
    assert not any((t.workdir / OUTCOME).exists() for t in running)

    resumed = hpo_run_with(site, path, cwd=tmp_path)
    # was: AttributeError: 'list' object has no attribute 'get', exit 4, on every resume
    assert resumed.returncode == 0, resumed.stderr
    assert "internal error" not in resumed.stderr and "Traceback" not in resumed.stderr
    warnings = [line for line in resumed.stderr.splitlines() if "harvest" in line]
    assert warnings == [_warning(shown)]
    with Journal.of(tmp_path / "run", readonly=True) as journal:
        evaluations = journal.evaluations()
    # each birth trained again, in a new directory, and recorded from that training
    assert sorted(e.trial.birth_id for e in evaluations) == [0, 1]
    assert all(e.ok and e.fitness == (0.5, 0.25) and "harvested" not in e.reason for e in evaluations)
    assert all((e.trial.workdir / "trained").exists() for e in evaluations)
    assert not {e.trial.uuid for e in evaluations} & {t.uuid for t in running}
