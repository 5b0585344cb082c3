"""The exact hypervolume against values worked out by hand and an independent algorithm."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dnnp_hpo.report.hypervolume import default_reference, hypervolume


def test_2d_staircase_by_hand():
    # Rectangles from each point to the reference (4, 4), their union is a staircase:
    # (4-1)*(4-3) + (4-2)*(3-2) + (4-3)*(2-1) = 3 + 2 + 1.
    assert hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4]) == pytest.approx(6.0)


def test_2d_dominated_duplicate_and_outside_points_add_nothing():
    base = hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4])
    extra = [[2, 3], [2, 2], [5, 0.5], [0.5, 4], [4, 0]]  # dominated, repeated, beyond or on the box edge
    assert hypervolume([[1, 3], [2, 2], [3, 1], *extra], [4, 4]) == pytest.approx(base)
    assert hypervolume(np.empty((0, 2)), [1, 1]) == 0.0


def test_order_does_not_matter():
    points = [[3, 1], [1, 3], [2, 2]]
    assert hypervolume(points, [4, 4]) == pytest.approx(6.0)


def test_3d_by_hand():
    # Boxes [0,2]x[0,2]x[1,2] (4) and [1,2]x[1,2]x[0,2] (2) overlap in [1,2]^3 (1): 4 + 2 - 1.
    assert hypervolume([[0, 0, 1], [1, 1, 0]], [2, 2, 2]) == pytest.approx(5.0)
    assert hypervolume([[0, 0, 0]], [1, 2, 3]) == pytest.approx(6.0)


def _inclusion_exclusion(points: np.ndarray, ref: np.ndarray) -> float:
    """Union of boxes by inclusion-exclusion: exponential, exact, and nothing like slicing."""
    points = points[np.all(points < ref, axis=1)]
    total = 0.0
    for k in range(1, len(points) + 1):
        for subset in itertools.combinations(range(len(points)), k):
            corner = points[list(subset)].max(axis=0)
            total += (-1) ** (k + 1) * float(np.prod(ref - corner))
    return total


@pytest.mark.parametrize("d", [2, 3, 4])
def test_matches_inclusion_exclusion_on_random_sets(d):
    rng = np.random.default_rng(d)
    for _ in range(20):
        points = rng.uniform(0, 1, size=(int(rng.integers(1, 9)), d)).round(2)
        ref = np.full(d, 1.05)
        assert hypervolume(points, ref) == pytest.approx(_inclusion_exclusion(points, ref), abs=1e-12)


def test_default_reference_is_worst_plus_a_tenth_of_the_range():
    values = np.array([[0.0, 10.0], [2.0, 5.0], [1.0, 0.0]])
    assert default_reference(values) == pytest.approx([2.2, 11.0])
    # no spread: a tenth of the value itself
    assert default_reference(np.array([[3.0, 0.0]])) == pytest.approx([3.3, 0.1])
