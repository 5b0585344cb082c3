"""A plugin's bug (an exception nothing expected) ends hpo-run with its traceback, then one
line that says it is an internal error, and exit status 4: status 1 says the search ran to
its end and no evaluation succeeded, which is not what happened.

Each plugin is a real installed distribution (test_registry.distribution) run by the real
hpo-run console script.
"""

from __future__ import annotations

import pytest
from cli_testutil import write_spec, zdt_spec
from hpo_testutil import run_cli
from test_registry import distribution, hpo_run_with

from dnnp_hpo.journal import Journal

BUGGY_TRAINER = '''\
import attrs
from dnnp_hpo.hookspecs import hookimpl


@attrs.frozen
class BuggyTrainer:
    where: str = "prepare"

    def prepare(self, run):
        if self.where == "prepare":
            raise RuntimeError("prepare went wrong\\non two lines")
        if self.where == "prepare-exit":
            import sys
            sys.exit()
        if self.where == "prepare-exit-message":
            import sys
            sys.exit("no GPU here")
        return self

    def render(self, trial):
        if self.where == "render":
            raise ZeroDivisionError("render went wrong")
        return None

    def train(self, trial):
        if self.where == "train":
            import sys
            sys.exit(3)
        return {"f1": 1.0, "f2": 2.0}


@hookimpl
def dnnp_hpo_trainers():
    return {"buggy": BuggyTrainer}
'''

BUGGY_OBSERVER = '''\
from dnnp_hpo.hookspecs import hookimpl


@hookimpl
def dnnp_hpo_generation_finished(run, generation, population, state):
    raise KeyError("observer went wrong")
'''

HINT = "(a bug in dnnp-hpo or in a plugin: the traceback above says where)"
EXITED = ("in its start-up checks: a plugin raises dnnp_hpo.errors.SpecError for a mistake in the spec, and lets "
          "hpo-run end the run")


def assert_internal_error(done, last_line: str, frame: str) -> None:
    assert done.returncode == 4, done.stderr
    lines = done.stderr.splitlines()
    assert lines[-1] == f"hpo-run: internal error: {last_line} {HINT}", done.stderr
    # the traceback is kept, above the line, and names the plugin's own frame
    assert "Traceback (most recent call last)" in done.stderr
    assert frame in done.stderr


@pytest.mark.parametrize("where, last_line, frame", [
    ("prepare", "RuntimeError: prepare went wrong on two lines", "in prepare"),
    ("render", "ZeroDivisionError: render went wrong", "in render"),
    # sys.exit() ended hpo-run with status 0 and no word; sys.exit("...") with status 1,
    # which says no evaluation succeeded (helper-79)
    ("prepare-exit", f"RuntimeError: the trainer plugin called sys.exit(None) {EXITED}", "in prepare"),
    ("prepare-exit-message", f"RuntimeError: the trainer plugin called sys.exit('no GPU here') {EXITED}", "in prepare"),
])
@pytest.mark.parametrize("dry_run", [True, False], ids=["dry-run", "run"])
def test_a_trainer_that_raises_is_an_internal_error_with_its_traceback(tmp_path, where, last_line, frame,
                                                                        dry_run):
    site = distribution(tmp_path / "site", "buggy-hpo", {"buggy": "buggy_plugin"}, "buggy_plugin",
                        BUGGY_TRAINER)
    spec = zdt_spec(tmp_path / "run")
    spec["trainer"] = {"plugin": "buggy", "where": where}
    path = write_spec(tmp_path / "s.yaml", spec)
    done = hpo_run_with(site, str(path), *(["--dry-run"] if dry_run else []), cwd=tmp_path)
    assert_internal_error(done, last_line, frame)
    assert 'buggy_plugin.py", line' in done.stderr
    assert not (tmp_path / "run").exists()  # raised before anything was launched


def test_a_plugin_train_that_calls_sys_exit_fails_its_evaluation_not_the_worker(tmp_path):
    """SystemExit is no Exception: from a plugin's train it went past the failure policy and
    killed the Dask worker (a review's: every candidate 'lost' to KilledWorker, 323 lines of
    tracebacks).  The function trainer caught it alone; core now does for every trainer."""
    site = distribution(tmp_path / "site", "buggy-hpo", {"buggy": "buggy_plugin"}, "buggy_plugin",
                        BUGGY_TRAINER)
    spec = zdt_spec(tmp_path / "run", pop_size=2, generations=0)
    spec["trainer"] = {"plugin": "buggy", "where": "train"}
    done = hpo_run_with(site, str(write_spec(tmp_path / "s.yaml", spec)), cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # ran to its end, nothing succeeded
    assert "2 of 2 error: BuggyTrainer.train called sys.exit(3)" in done.stderr
    assert "KilledWorker" not in done.stderr and "workers died" not in done.stderr
    journal = Journal.of(tmp_path / "run", readonly=True)
    assert [e.status for e in journal.evaluations()] == ["error", "error"]


def test_an_observer_that_raises_during_a_run_is_an_internal_error(tmp_path):
    site = distribution(tmp_path / "site", "buggy-hpo", {"observer": "buggy_observer"}, "buggy_observer",
                        BUGGY_OBSERVER)
    path = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=4, generations=1))
    done = hpo_run_with(site, str(path), cwd=tmp_path)
    assert_internal_error(done, "KeyError: 'observer went wrong'", "in dnnp_hpo_generation_finished")
    # the run stopped in order: the same command resumes it (not refused as locked by a
    # driver still running) and meets the same bug
    assert (tmp_path / "run" / "journal.sqlite").exists()
    again = hpo_run_with(site, str(path), cwd=tmp_path)
    assert_internal_error(again, "KeyError: 'observer went wrong'", "in dnnp_hpo_generation_finished")


KEYERROR_TRAINER = '''\
import attrs
from dnnp_hpo.hookspecs import hookimpl


@attrs.frozen(kw_only=True)
class StepsTrainer:
    template: str
    settings: dict = attrs.field(factory=dict)

    def __attrs_post_init__(self):
        if self.settings["numb_steps"] < 1:  # the bug: a KeyError when the user gives none
            raise ValueError("numb_steps: expected 1 or more")

    def prepare(self, run):
        return self

    def render(self, trial):
        return None

    def train(self, trial):
        return {"f1": 1.0, "f2": 2.0}


@hookimpl
def dnnp_hpo_trainers():
    return {"steps": StepsTrainer}
'''


def test_a_key_error_in_a_plugins_validation_is_not_reported_as_a_missing_key(tmp_path):
    site = distribution(tmp_path / "site", "steps-hpo", {"steps": "steps_plugin"}, "steps_plugin",
                        KEYERROR_TRAINER)
    spec = zdt_spec(tmp_path / "run")
    spec["trainer"] = {"plugin": "steps", "template": "t.json", "settings": {"numb_stpes": 5}}
    path = write_spec(tmp_path / "s.yaml", spec)
    done = hpo_run_with(site, str(path), "--dry-run", cwd=tmp_path)
    # The old line, "s.yaml: trainer: required key is missing", blamed the user and named
    # no key; the plugin's own frame is what its author needs.
    assert "required key is missing" not in done.stderr
    assert_internal_error(done, "KeyError: 'numb_steps'", "in __attrs_post_init__")
    # a key the user really left out still reads as missing, naming it: one line, exit 2
    del spec["trainer"]["template"]
    done = hpo_run_with(site, str(write_spec(path, spec)), "--dry-run", cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.splitlines() == [f"hpo-run: {path}: trainer.template: required key is missing"]


def test_a_callable_that_calls_sys_exit_fails_its_evaluation(tmp_path, hpo_run_exe):
    """SystemExit is no Exception: from a function trainer's callable it went past the
    failure policy, and the run hung (a review's: 60 s and 290 lines of worker tracebacks)."""
    spec = write_spec(tmp_path / "s.yaml", zdt_spec(tmp_path / "run", pop_size=2, generations=0,
                                                    callable_="sys:exit"))
    done = run_cli(hpo_run_exe, str(spec), cwd=tmp_path, timeout=60)
    assert done.returncode == 1, done.stderr
    assert "no evaluation succeeded (final population: 2 of 2 error: sys:exit called sys.exit(...)" in done.stderr
