"""A trainer plugin's mistakes, as a reviewer writing one made them, are recorded so that
its author sees what is wrong, and the run goes on (paper, 2.2.4: MAXINT fitness, the
reason recorded, never a stopped run).

The searches run in-process through the real driver (``dnnp_hpo.cli.main``) on local Dask
workers with the ``function`` trainer, whose callable is ``mistake`` below: the workers
import this module (its directory is on their ``sys.path``, see conftest.py), and the
mistake to make is told them by the environment they inherit.  The finer cases call
``run_trial``, what a worker runs for one candidate, with a small trainer class.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hpo_testutil import MAXINT, read_csv, write_spec, zdt_spec

from dnnp_hpo.cli import main
from dnnp_hpo.errors import TrainingFailed
from dnnp_hpo.evaluate import run_trial
from dnnp_hpo.evaluation import STATUSES, Trial
from dnnp_hpo.journal import Journal

CALLABLE = "test_trainer_mistakes_review45:mistake"
MISTAKE = "DNNP_HPO_TEST_MISTAKE"  #: the environment variable that names the mistake


def mistake(params):
    """The function trainer's callable: makes the mistake its environment names."""
    what = os.environ[MISTAKE]
    if what.startswith("status="):
        raise TrainingFailed("lcurve.out has no validation rows", status=what.removeprefix("status="))
    raise AssertionError(f"unknown mistake {what!r}")


def search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, what: str):
    """hpo-run in-process on two candidates that all make the mistake ``what``: its exit
    status, its output, and the rows of individuals.csv and of the journal."""
    monkeypatch.setenv(MISTAKE, what)
    run_dir = tmp_path / "run"
    spec = write_spec(tmp_path / "spec.yaml", zdt_spec(run_dir, n=2, pop_size=2, generations=0,
                                                       callable_=CALLABLE))
    status = main([str(spec)])
    out = capsys.readouterr()
    with Journal.of(run_dir, readonly=True) as journal:
        evaluations = journal.evaluations()
    return status, out, read_csv(run_dir / "individuals.csv"), evaluations


def a_trial(tmp_path: Path) -> Trial:
    return Trial(uuid="u1", birth_id=0, generation=0, genome=(0.5,), params={"x": 0.5}, seed=1,
                 workdir=tmp_path / "evals" / "u1")


class Raising:
    """A trainer whose train raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def train(self, trial: Trial):
        raise self.error


# ---- 1. TrainingFailed with a status no reader knows ---------------------------------------


@pytest.mark.parametrize("given", ["ok", "timout"])
def test_a_status_no_reader_knows_is_recorded_as_an_error_naming_it(tmp_path, monkeypatch, capsys, given):
    """``status='ok'`` recorded ok rows with the MAXINT fitness, and the progress said
    "0 failed"; a typo, ``'timout'``, became a status of its own."""
    status, out, rows, evaluations = search(tmp_path, monkeypatch, capsys, f"status={given}")
    reason = (f"trainer raised TrainingFailed with status '{given}', expected failed, timeout or error: "
              "lcurve.out has no validation rows")
    assert [(r["status"], r["reason"], float(r["f1"]), float(r["f2"])) for r in rows] == [
        ("error", reason, MAXINT, MAXINT)] * 2
    assert [(e.status, e.reason) for e in evaluations] == [("error", reason)] * 2
    # the run ran to its end and says that nothing succeeded, and why
    assert status == 1, out.err
    assert "(2 failed in the final population)" in out.out
    assert f"2 of 2 error: {reason}" in out.err


@pytest.mark.parametrize("given", ["running", "interrupted", "lost", "infeasible", "TIMEOUT", "", None, 3])
def test_no_status_but_the_trainers_reaches_the_journal(tmp_path, given):
    """``running`` and ``interrupted`` are the journal's own, for evaluations not finished:
    a finished one recorded with them upset hpo-report's counts; ``lost`` and
    ``infeasible`` are core's to give."""
    evaluation = run_trial(Raising(TrainingFailed("diverged", status=given)), a_trial(tmp_path), ["f1"])
    assert (evaluation.status, evaluation.fitness) == ("error", (MAXINT,))
    assert evaluation.reason == (f"trainer raised TrainingFailed with status {given!r}, expected failed, "
                                 "timeout or error: diverged")


@pytest.mark.parametrize("given", ["failed", "timeout", "error"])
def test_the_trainers_statuses_are_recorded_as_given(tmp_path, given):
    assert set(TrainingFailed.STATUSES) <= set(STATUSES)
    evaluation = run_trial(Raising(TrainingFailed("diverged", status=given)), a_trial(tmp_path), ["f1"])
    assert (evaluation.status, evaluation.reason, evaluation.fitness) == (given, "diverged", (MAXINT,))
