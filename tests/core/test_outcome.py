"""The outcome a worker leaves in an evaluation's directory, and what a resume reads back.

tests/faults/test_driver_killed_on_cluster.py covers the whole story (driver killed, the
workers finish, the resume harvests); these check the file itself.
"""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest

from dnnp_hpo.errors import TrainingFailed
from dnnp_hpo.evaluate import run_trial
from dnnp_hpo.evaluation import MAXINT, OUTCOME, Trial, left_outcome, make_workdir


@attrs.frozen
class DirectoryTrainer:
    """Trains in a directory of its own, as the command trainers do."""

    fail: bool = False

    def train(self, trial: Trial) -> dict[str, float]:
        make_workdir(trial)
        if self.fail:
            raise TrainingFailed("lcurve.out has a header but no complete data rows")
        return {"energy_rmse": 0.25, "force_rmse": float(trial.params["x"]), "runtime": 1.5}


def a_trial(tmp_path: Path, x: float = 0.125) -> Trial:
    return Trial(uuid="u1", birth_id=3, generation=1, genome=(x,), params={"x": x}, seed=9,
                 workdir=tmp_path / "evals" / "u1")


def test_a_finished_evaluation_reads_back_exactly(tmp_path: Path) -> None:
    trial = a_trial(tmp_path)
    evaluation = run_trial(DirectoryTrainer(), trial, ["energy_rmse", "force_rmse"])
    assert evaluation.ok and evaluation.fitness == (0.25, 0.125)
    assert left_outcome(trial) == evaluation


def test_a_failed_training_leaves_its_failure(tmp_path: Path) -> None:
    trial = a_trial(tmp_path)
    evaluation = run_trial(DirectoryTrainer(fail=True), trial, ["energy_rmse", "force_rmse"])
    left = left_outcome(trial)
    assert left == evaluation
    assert (left.status, left.fitness) == ("failed", (MAXINT, MAXINT)) and "no complete data rows" in left.reason


def test_a_trainer_without_a_directory_leaves_nothing(tmp_path: Path) -> None:
    trial = a_trial(tmp_path)

    class NoDirectory:
        def train(self, trial: Trial) -> dict[str, float]:
            return {"f1": 1.0}

    assert run_trial(NoDirectory(), trial, ["f1"]).ok
    assert not trial.workdir.exists() and left_outcome(trial) is None


@pytest.mark.parametrize("content", [
    "",  # written by something else and cut short
    "{not json",
    json.dumps({"status": "ok"}),  # fields missing
    json.dumps({"status": "exploded", "reason": "", "fitness": [1.0], "metrics": {}, "start": 0, "stop": 1,
                "hostname": "h", "pid": 1}),  # not a status
    json.dumps({"status": "ok", "reason": "", "fitness": ["a"], "metrics": {}, "start": 0, "stop": 1,
                "hostname": "h", "pid": 1}),  # not numbers
    json.dumps([1, 2, 3]),
])
def test_an_unreadable_outcome_means_train_again(tmp_path: Path, content: str) -> None:
    trial = a_trial(tmp_path)
    trial.workdir.mkdir(parents=True)
    (trial.workdir / OUTCOME).write_text(content)
    assert left_outcome(trial) is None


def test_failures_differing_only_in_task_key_and_address_are_counted_as_one(tmp_path: Path) -> None:
    """Dask's KilledWorker names its random task key and the dead worker's address: every
    lost evaluation read as a reason of its own ("1 of 4 lost" when all 4 were)."""
    from dnnp_hpo.evaluation import Evaluation, failure_summary, shared_reason

    def lost(i: int, key: str, port: int) -> Evaluation:
        trial = Trial(uuid=f"0000000{i}-aaaa-bbbb-cccc-dddddddddddd", birth_id=i, generation=0, genome=(0.5,),
                      params={"x": 0.5}, seed=i, workdir=tmp_path / str(i))
        reason = (f"the engine lost the evaluation: KilledWorker: Attempted to run task 'run_trial-{key}' on 4 "
                  f"different workers, but all those workers died while running it. The last worker that attempt "
                  f"to run the task was tcp://127.0.0.1:{port}. Inspecting worker logs")
        return Evaluation(trial=trial, status="lost", reason=reason, fitness=(MAXINT,), metrics={}, start=0.0,
                          stop=0.0, hostname="?", pid=-1)

    evaluations = [lost(1, "480b20a7-1c2d-4e5f-8a9b-0c1d2e3f4a5b", 41233),
                   lost(2, "9f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a", 39001)]
    assert shared_reason(evaluations[0]) == shared_reason(evaluations[1]) == (
        "the engine lost the evaluation: KilledWorker: Attempted to run task 'run_trial-<uuid>' on 4 different "
        "workers, but all those workers died while running it. The last worker that attempt to run the task was "
        "<address>. Inspecting worker logs")
    assert failure_summary(evaluations).startswith("2 of 2 lost: ")
    # any other URL stays: which data file failed to download is the failure
    urls = [attrs.evolve(evaluations[0], reason=f"cannot fetch https://data.example.org/set-{x}.tar.gz")
            for x in "AB"]
    assert shared_reason(urls[0]) != shared_reason(urls[1])


@pytest.mark.parametrize("value", [MAXINT, 3.0e9])
def test_a_value_at_or_above_the_failure_fitness_fails_its_evaluation(tmp_path: Path, value: float) -> None:
    """A review's runtime in microseconds, 3e9, was recorded ok: the search ranked it behind
    the failures (MAXINT) and hpo-report counted it as one while hpo-run did not."""

    class Huge:
        def train(self, trial: Trial) -> dict[str, float]:
            return {"energy_rmse": 0.5, "runtime_us": value}

    evaluation = run_trial(Huge(), a_trial(tmp_path), ["energy_rmse", "runtime_us"])
    assert (evaluation.status, evaluation.fitness) == ("failed", (MAXINT, MAXINT))
    assert evaluation.reason == (f"runtime_us ({value:g}) at or above 2147483647, the failure fitness: "
                                 "measure it in a larger unit")
    below = run_trial(Huge(), a_trial(tmp_path), ["energy_rmse"])  # not an objective: kept as measured
    assert below.ok and below.metrics["runtime_us"] == value


def test_a_large_negative_value_is_a_result(tmp_path: Path) -> None:
    """Minimised, -3e9 ranks ahead of the failures, not behind them: it is no failure."""

    class Negative:
        def train(self, trial: Trial) -> dict[str, float]:
            return {"gain": -3.0e9}

    evaluation = run_trial(Negative(), a_trial(tmp_path), ["gain"])
    assert evaluation.ok and evaluation.fitness == (-3.0e9,)


@pytest.mark.parametrize(("returned", "reason"), [
    ([0.1, 0.2], "trainer returned list [0.1, 0.2], expected a mapping of metric names to numbers"),
    (None, "trainer returned NoneType None, expected a mapping of metric names to numbers"),
    ({"f1": "low"}, "trainer returned metric(s) that are not numbers (int or float): 'f1': 'low' (a str)"),
    # recorded ok, its name stored as "3" (helper-79)
    ({"f1": 0.5, 3: 1.0}, "trainer returned metric name(s) that are not str: 3 (of type int)"),
])
def test_a_trainer_returning_no_mapping_of_numbers_gets_a_reason_that_says_so(tmp_path: Path, returned,
                                                                              reason: str) -> None:
    """A review's plugin returned a list: its reason was dict()'s "cannot convert dictionary
    update sequence element #0 to a sequence"."""

    class Listing:
        def train(self, trial: Trial):
            return returned

    evaluation = run_trial(Listing(), a_trial(tmp_path), ["f1"])
    assert (evaluation.status, evaluation.fitness, evaluation.reason) == ("error", (MAXINT,), reason)


def test_what_dict_takes_stays_a_result(tmp_path: Path) -> None:
    """(name, value) pairs were taken through dict() before, and stay taken (a review)."""

    class Pairs:
        def train(self, trial: Trial):
            return [("f1", 0.1), ("f2", 0.2)]

    evaluation = run_trial(Pairs(), a_trial(tmp_path), ["f1", "f2"])
    assert evaluation.ok and evaluation.fitness == (0.1, 0.2)


def test_failures_with_different_reasons_are_counted_all_before_the_commonest(tmp_path: Path) -> None:
    """Six trainings that diverged at six steps read "1 of 6 error: ... step 786", as if
    five had not failed; how many failed comes first now."""
    from dnnp_hpo.evaluation import Evaluation, failure_summary

    def evaluation(i: int, status: str, reason: str) -> Evaluation:
        trial = Trial(uuid=f"0000000{i}-aaaa-bbbb-cccc-dddddddddddd", birth_id=i, generation=0, genome=(0.5,),
                      params={"x": 0.5}, seed=i, workdir=tmp_path / str(i))
        return Evaluation(trial=trial, status=status, reason=reason, fitness=(MAXINT,), metrics={}, start=0.0,
                          stop=0.0, hostname="h", pid=1)

    diverged = [evaluation(i, "error", f"ValueError: loss diverged at step {700 + i}") for i in range(4)]
    timed_out = [evaluation(i, "timeout", "killed at the time limit") for i in (4, 5)]
    # diverged at four steps: one failure, not four of one each (a review's "1 of them")
    alike = "error: ValueError: loss diverged at step 700 (the first of 4 alike but for their numbers)"
    assert failure_summary(diverged + timed_out) == f"6 of 6 failed (4 error, 2 timeout); 4 of them {alike}"
    assert failure_summary(diverged) == f"4 of 4 {alike}"
    assert failure_summary(diverged[:2] + timed_out) == ("4 of 4 failed (2 error, 2 timeout); 2 of them error: "
                                                         "ValueError: loss diverged "
                                                         "at step 700 (the first of 2 alike but for their numbers)")
    crashed = [evaluation(6, "failed", "exit status 1"), evaluation(7, "failed", "exit status 1")]
    assert failure_summary(crashed + timed_out[:1]) == "3 of 3 failed (2 failed, 1 timeout); 2 of them failed: exit status 1"
    # one status, two reasons: no count by status
    other = attrs.evolve(crashed[0], status="failed", reason="data path(s) not found: /x")
    assert failure_summary([*crashed, other]) == "3 of 3 failed; 2 of them: exit status 1"
    # all infeasible, by two constraints: "4 of 4 failed; 2 of them infeasible: ..." read as
    # if 2 were infeasible (helper-110)
    infeasible = [evaluation(i, "infeasible", f"violates {c}") for i, c in enumerate(["x < 0.3", "x > 0.7"] * 2)]
    assert failure_summary(infeasible) == "4 of 4 infeasible; 2 of them: violates x < 0.3"
    ok = attrs.evolve(diverged[0], status="ok", reason="")
    assert failure_summary([ok, *timed_out]) == "2 of 3 timeout: killed at the time limit"


def test_an_exception_whose_message_cannot_be_read_is_still_recorded(tmp_path: Path) -> None:
    """A plugin's exception class with a broken __str__ escaped run_trial from inside its
    except clause (a review's), and on a Dask worker the evaluation was lost."""

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no message")

    class Broken:
        def train(self, trial: Trial) -> dict[str, float]:
            raise Unprintable()

    evaluation = run_trial(Broken(), a_trial(tmp_path), ["f1"])
    assert evaluation.status == "error" and evaluation.reason.startswith("Unprintable (traceback in "), evaluation
