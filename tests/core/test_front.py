"""The Pareto filter and the chemical-accuracy rule of dnnp_hpo.front."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dnnp_hpo.evaluation import MAXINT, Evaluation, Trial
from dnnp_hpo.front import chemically_accurate, non_dominated, pareto_front


def _brute_force(points: np.ndarray) -> np.ndarray:
    """The definition, row by row: no other row at least as good everywhere and better somewhere."""
    return np.array([not any(np.all(q <= p) and np.any(q < p) for q in points) for p in points], dtype=bool)


def test_non_dominated_by_hand():
    points = [[1, 3], [2, 2], [2, 2], [3, 1], [2, 3], [3, 3], [1, 4]]
    # the duplicated (2, 2) stays twice; (2, 3) and (3, 3) are dominated by (2, 2), and
    # (1, 4) by (1, 3), equal in one objective and worse in the other
    assert non_dominated(points).tolist() == [True, True, True, True, False, False, False]


def test_non_dominated_of_nothing_is_an_empty_mask():
    assert non_dominated(np.empty((0, 2))).tolist() == []
    assert non_dominated([]).tolist() == []


@pytest.mark.parametrize("d", [1, 2, 3, 4, 5])
def test_non_dominated_matches_the_definition_on_sets_with_ties(d):
    rng = np.random.default_rng(d)
    for _ in range(30):
        points = rng.integers(0, 4, size=(int(rng.integers(1, 30)), d)).astype(float)
        assert non_dominated(points).tolist() == _brute_force(points).tolist(), points


def _evaluation(uuid: str, fitness: tuple[float, ...], status: str = "ok") -> Evaluation:
    trial = Trial(uuid=uuid, birth_id=0, generation=0, genome=(0.0,), params={}, seed=0, workdir=Path(uuid))
    return Evaluation(trial=trial, status=status, reason="", fitness=fitness, metrics={}, start=0.0, stop=1.0,
                      hostname="h", pid=1)


def test_pareto_front_keeps_successes_once_each_sorted():
    a, b, c = _evaluation("a", (2.0, 1.0)), _evaluation("b", (1.0, 2.0)), _evaluation("c", (2.0, 2.0))
    failed = _evaluation("x", (0.0, 0.0), status="failed")  # would dominate all, but failed
    assert pareto_front([a, b, c, failed, a]) == [b, a]
    assert pareto_front([failed]) == []


def test_chemically_accurate_at_or_below_every_limit():
    names = ["energy_rmse", "force_rmse"]
    limits = {"energy_rmse": 0.004, "force_rmse": 0.04}
    assert chemically_accurate(_evaluation("a", (0.004, 0.04)), names, limits) is True
    assert chemically_accurate(_evaluation("b", (0.004, 0.041)), names, limits) is False
    assert chemically_accurate(_evaluation("c", (0.001, 0.01), status="timeout"), names, limits) is False
    assert chemically_accurate(_evaluation("d", (1.0, 1.0)), names, {"energy_rmse": 2.0}) is True  # unlimited force
    assert chemically_accurate(_evaluation("e", (0.001, 0.01)), names, {}) is None


def test_succeeded_replaces_the_status_as_the_test_of_success():
    """hpo-report's test (finite values below MAXINT): an ``ok`` at MAXINT, which a journal
    from before hpo-run refused such values can hold, is no success to it."""
    names, limits = ["energy_rmse"], {"energy_rmse": 2 * MAXINT}
    old = _evaluation("a", (MAXINT,))
    assert chemically_accurate(old, names, limits) is True
    assert chemically_accurate(old, names, limits, succeeded=False) is False
    assert chemically_accurate(_evaluation("b", (1.0,), status="failed"), names, limits, succeeded=True) is True
    assert chemically_accurate(old, names, {}, succeeded=False) is None
