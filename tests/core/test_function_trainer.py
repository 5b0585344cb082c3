"""What the ``function`` trainer takes back from its callable.

A review (helper-79) had a callable return its objectives by name, as every trainer
returns its metrics: the keys were taken for the values ("'f1': 'f1' (a str)").  A
mapping is now taken as metrics; one number where there are two objectives is the
callable's mistake, status error, with a reason that says what was expected.
"""

from __future__ import annotations

from pathlib import Path

from dnnp_hpo.evaluate import run_trial
from dnnp_hpo.evaluation import MAXINT, Trial
from dnnp_hpo.plugins.function import PreparedFunction
from dnnp_hpo.problems import zdt1

OBJECTIVES = ("f1", "f2")


def trial(tmp_path: Path) -> Trial:
    params = {f"x{i}": 0.25 for i in range(7)}
    return Trial(uuid="u", birth_id=0, generation=0, genome=tuple(params.values()), params=params, seed=1,
                 workdir=tmp_path / "evals" / "u")


def test_a_mapping_of_objective_names_is_taken_as_metrics(tmp_path):
    evaluation = run_trial(PreparedFunction("hpo_testfuncs:zdt1_as_mapping", OBJECTIVES), trial(tmp_path),
                           list(OBJECTIVES))
    assert evaluation.ok, evaluation.reason
    assert evaluation.fitness == tuple(zdt1(trial(tmp_path).params))
    assert set(evaluation.metrics) == {"f1", "f2", "g"}  # the extra metric is recorded too


def test_a_sequence_in_objective_order_still_is(tmp_path):
    evaluation = run_trial(PreparedFunction("dnnp_hpo.problems:zdt1", OBJECTIVES), trial(tmp_path),
                           list(OBJECTIVES))
    assert evaluation.ok and evaluation.fitness == tuple(zdt1(trial(tmp_path).params))


def test_one_number_for_two_objectives_is_the_callable_s_error(tmp_path):
    evaluation = run_trial(PreparedFunction("hpo_testfuncs:one_number", OBJECTIVES), trial(tmp_path),
                           list(OBJECTIVES))
    assert (evaluation.status, evaluation.fitness) == ("error", (MAXINT, MAXINT))
    assert evaluation.reason == ("hpo_testfuncs:one_number returned a float (0.25) for 2 objectives: expected their "
                                 "values in spec order, or a mapping of objective names to values")


def test_a_generator_that_fails_part_way_fails_with_its_own_error(tmp_path):
    """Not "returned a generator": its TypeError is what its author needs (helper-80)."""
    evaluation = run_trial(PreparedFunction("hpo_testfuncs:failing_generator", OBJECTIVES), trial(tmp_path),
                           list(OBJECTIVES))
    assert evaluation.status == "error"
    assert evaluation.reason.startswith("TypeError: unsupported operand type(s) for +: 'float' and 'str'"), \
        evaluation.reason
