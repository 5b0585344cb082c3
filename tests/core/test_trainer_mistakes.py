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

import numpy as np
import pytest
from hpo_testutil import MAXINT, read_csv, write_spec, zdt_spec

from dnnp_hpo.cli import main
from dnnp_hpo.errors import TrainingFailed
from dnnp_hpo.evaluate import run_trial
from dnnp_hpo.evaluation import OUTCOME, STATUSES, Trial, make_workdir
from dnnp_hpo.journal import Journal

CALLABLE = "test_trainer_mistakes:mistake"
MISTAKE = "DNNP_HPO_TEST_MISTAKE"  #: the environment variable that names the mistake


def mistake(params):
    """The function trainer's callable: makes the mistake its environment names."""
    what = os.environ[MISTAKE]
    if what.startswith("status="):
        raise TrainingFailed("lcurve.out has no validation rows", status=what.removeprefix("status="))
    if what == "bug":
        return read_energy({"forces": 0.5})
    if what == "not numbers":
        return (True, "0.005")
    raise AssertionError(f"unknown mistake {what!r}")


def read_energy(metrics):
    """A plugin's bug: the energy is not in what it read."""
    return (metrics["energy"], metrics["forces"])


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


# ---- 2. a bug in train() leaves its traceback ----------------------------------------------

TRACEBACK = "dnnp-hpo-traceback.txt"


def test_a_bug_in_train_leaves_its_traceback_in_the_evaluations_directory(tmp_path, monkeypatch, capsys):
    """``KeyError: 'energy'`` was all the plugin's author got: no file, no line.  The
    function trainer makes no directory: it is made for the traceback."""
    status, out, rows, _ = search(tmp_path, monkeypatch, capsys, "bug")
    assert status == 1, out.err
    assert "2 of 2 error: KeyError: 'energy' (traceback in evals/<uuid>/dnnp-hpo-traceback.txt)" in out.err
    for row in rows:
        assert row["status"] == "error"
        assert row["reason"] == f"KeyError: 'energy' (traceback in evals/{row['uuid']}/{TRACEBACK})"
        evaldir = tmp_path / "run" / "evals" / row["uuid"]
        text = (evaldir / TRACEBACK).read_text(encoding="utf-8")
        assert text.startswith(f"evaluation {row['uuid']} (birth {row['birth_id']}, generation 0), params ")
        assert "Traceback (most recent call last):" in text
        # the file and line of the bug, and what was raised there
        assert f'{Path(__file__).name}", line' in text and "in read_energy" in text
        assert 'return (metrics["energy"], metrics["forces"])' in text
        assert text.rstrip().endswith("KeyError: 'energy'")
        assert (evaldir / OUTCOME).is_file()  # and a resume finds its outcome there


def test_the_pointer_to_the_traceback_survives_a_long_reason(tmp_path):
    """Reasons are cut at 300 characters (the CSV, the journal): the message is cut, not
    the pointer."""
    trial = a_trial(tmp_path)
    evaluation = run_trial(Raising(ValueError("loss diverged " * 100)), trial, ["f1"])
    pointer = f"... (traceback in evals/u1/{TRACEBACK})"
    assert evaluation.status == "error" and len(evaluation.reason) <= 300
    assert evaluation.reason.startswith("ValueError: loss diverged loss diverged")
    assert evaluation.reason.endswith(pointer)
    assert "ValueError: " + "loss diverged " * 99 in (trial.workdir / TRACEBACK).read_text()


def test_sys_exit_in_train_leaves_its_traceback_too(tmp_path):
    trial = a_trial(tmp_path)
    evaluation = run_trial(Raising(SystemExit(3)), trial, ["f1"])
    assert evaluation.reason == f"Raising.train called sys.exit(3) (traceback in evals/u1/{TRACEBACK})"
    assert "SystemExit: 3" in (trial.workdir / TRACEBACK).read_text()


def test_the_traceback_joins_the_trainers_own_files(tmp_path):
    """A trainer that made its directory keeps it as it was (no attempt-N renaming)."""

    class Buggy:
        def train(self, trial: Trial):
            (make_workdir(trial) / "stdout.log").write_text("trained\n")
            rows = (trial.workdir / "stdout.log").read_text().split()[1:]
            return {"f1": float(rows[0])}

    trial = a_trial(tmp_path)
    evaluation = run_trial(Buggy(), trial, ["f1"])
    assert evaluation.reason == f"IndexError: list index out of range (traceback in evals/u1/{TRACEBACK})"
    assert sorted(p.name for p in (tmp_path / "evals").iterdir()) == ["u1"]
    assert sorted(p.name for p in trial.workdir.iterdir()) == sorted([OUTCOME, TRACEBACK, "stdout.log"])


def test_a_traceback_that_cannot_be_saved_costs_only_the_pointer(tmp_path):
    """No directory can be made (``evals`` is a file here, as on a read-only disk): the
    evaluation is recorded all the same, with the exception as its reason."""
    (tmp_path / "evals").write_text("not a directory")
    evaluation = run_trial(Raising(KeyError("energy")), a_trial(tmp_path), ["f1"])
    assert (evaluation.status, evaluation.reason, evaluation.fitness) == ("error", "KeyError: 'energy'", (MAXINT,))


# ---- 3. metrics that are not numbers -------------------------------------------------------

NOT_NUMBERS = "trainer returned metric(s) that are not numbers (int or float): "


def test_a_bool_or_a_text_is_no_objective_value(tmp_path, monkeypatch, capsys):
    """``True`` was recorded as 1.0 and ``'0.005'`` as 0.005: a trainer's mistake hidden in
    a result the search ranked."""
    status, out, rows, evaluations = search(tmp_path, monkeypatch, capsys, "not numbers")
    reason = NOT_NUMBERS + "'f1': True (a bool), 'f2': '0.005' (a str)"
    assert [(r["status"], r["reason"], float(r["f1"]), float(r["f2"])) for r in rows] == [
        ("error", reason, MAXINT, MAXINT)] * 2
    assert [e.metrics for e in evaluations] == [{}, {}]
    assert status == 1 and f"2 of 2 error: {reason}" in out.err


class Returning:
    def __init__(self, metrics) -> None:
        self.metrics = metrics

    def train(self, trial: Trial):
        return self.metrics


@pytest.mark.parametrize(("value", "named"), [
    ("fine", "'fine' (a str)"),
    (np.True_, f"{np.True_!r} (a {type(np.True_).__name__})"),
    (b"0.1", "b'0.1' (a bytes)"),
    (None, "None (a NoneType)"),
    (1j, "1j (a complex)"),
    (10 ** 400, f"{str(10 ** 400)[:60]}... (a int)"),  # float() raised OverflowError, out of run_trial
], ids=["str", "numpy bool", "bytes", "None", "complex", "huge int"])
def test_a_metric_that_is_not_a_number_is_named_with_its_value(tmp_path, value, named):
    """An extra metric, ``'note': 'fine'``, failed a good training with "could not convert
    string to float: 'fine'", which named no metric."""
    evaluation = run_trial(Returning({"f1": 0.5, "note": value}), a_trial(tmp_path), ["f1"])
    assert (evaluation.status, evaluation.fitness) == ("error", (MAXINT,))
    assert evaluation.reason == NOT_NUMBERS + "'note': " + named


def test_numpy_numbers_and_ints_are_numbers(tmp_path):
    metrics = {"f1": np.float32(0.5), "steps": np.int64(40), "epochs": 2, "runtime": np.float64(1.25)}
    evaluation = run_trial(Returning(metrics), a_trial(tmp_path), ["f1"])
    assert evaluation.ok and evaluation.fitness == (0.5,)
    assert evaluation.metrics == {"f1": 0.5, "steps": 40.0, "epochs": 2.0, "runtime": 1.25}
    assert all(type(v) is float for v in evaluation.metrics.values())
