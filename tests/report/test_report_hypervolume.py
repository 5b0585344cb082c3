"""The exact hypervolume against values worked out by hand and an independent algorithm."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dnnp_hpo.report.hypervolume import default_reference, hypervolume


def test_2d_staircase_by_hand():
    # Rectangles from each point to the reference (4, 4), their union is a staircase:
    # (4-1)*(4-3) + (4-2)*(3-2) + (4-3)*(2-1) = 3 + 2 + 1.
    assert hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4]) == 6.0


def test_2d_dominated_duplicate_and_outside_points_add_nothing():
    base = hypervolume([[1, 3], [2, 2], [3, 1]], [4, 4])
    extra = [[2, 3], [2, 2], [5, 0.5], [0.5, 4], [4, 0]]  # dominated, repeated, beyond or on the box edge
    assert hypervolume([[1, 3], [2, 2], [3, 1], *extra], [4, 4]) == pytest.approx(base)


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_no_point_or_none_inside_the_box_is_zero(d):
    assert hypervolume(np.empty((0, d)), np.ones(d)) == 0.0
    assert hypervolume([], np.ones(d)) == 0.0
    assert hypervolume([np.full(d, 2.0), np.ones(d)], np.ones(d)) == 0.0  # outside, on the corner


def test_a_point_holding_nan_adds_nothing():
    # NaN compares false with the reference: outside the box (moocore's 3-D algorithm alone returns NaN)
    assert hypervolume([[0, 0, np.nan], [1, 1, 0]], [2, 2, 2]) == pytest.approx(2.0)
    assert hypervolume([[np.nan, 0], [1, 1]], [2, 2]) == pytest.approx(1.0)


def test_order_does_not_matter():
    points = [[3, 1], [1, 3], [2, 2]]
    assert hypervolume(points, [4, 4]) == pytest.approx(6.0)


def test_3d_by_hand():
    # Boxes [0,2]x[0,2]x[1,2] (4) and [1,2]x[1,2]x[0,2] (2) overlap in [1,2]^3 (1): 4 + 2 - 1.
    assert hypervolume([[0, 0, 1], [1, 1, 0]], [2, 2, 2]) == pytest.approx(5.0)
    assert hypervolume([[0, 0, 0]], [1, 2, 3]) == pytest.approx(6.0)


def test_3d_three_boxes_by_inclusion_exclusion_by_hand():
    # Reference (4, 4, 4); a = (0, 2, 3), b = (2, 0, 2), c = (3, 3, 0), and c repeated.
    # Boxes up to the reference: a 4*2*1 = 8, b 2*4*2 = 16, c 1*1*4 = 4.
    # Pairwise, the box of the worse corner: ab (2, 2, 3) 2*2*1 = 4, ac (3, 3, 3) 1*1*1 = 1,
    # bc (3, 3, 2) 1*1*2 = 2; all three (3, 3, 3) 1.  8 + 16 + 4 - 4 - 1 - 2 + 1 = 22.
    points = [[0, 2, 3], [2, 0, 2], [3, 3, 0], [3, 3, 0]]
    assert hypervolume(points, [4, 4, 4]) == pytest.approx(22.0)
    assert hypervolume([*points, [5, 0, 0], [1, 3, 3]], [4, 4, 4]) == pytest.approx(22.0)  # outside; dominated by a


def test_a_large_front_in_four_objectives_is_computed_exactly():
    # 2,000 points on a 2-D staircase, flat in the last two objectives: the staircase's
    # area times the box's other two sides.  With steps of 1/n from (0, 1 - 1/n) to
    # (1 - 1/n, 0) against (1, 1): sum over i of (1 - i/n) * 1/n = (n + 1) / (2n).  The
    # slicing algorithm this replaced gave up on it (n^2 sweeps).
    n = 2000
    steps = np.arange(n) / n
    points = np.column_stack([steps, 1 - 1 / n - steps, np.zeros(n), np.zeros(n)])
    assert hypervolume(points, [1, 1, 2, 3]) == pytest.approx((n + 1) / (2 * n) * 2 * 3, rel=1e-12)


def _inclusion_exclusion(points: np.ndarray, ref: np.ndarray) -> float:
    """Union of boxes by inclusion-exclusion: exponential, exact, and independent of moocore."""
    points = points[np.all(points < ref, axis=1)]
    total = 0.0
    for k in range(1, len(points) + 1):
        for subset in itertools.combinations(range(len(points)), k):
            corner = points[list(subset)].max(axis=0)
            total += (-1) ** (k + 1) * float(np.prod(ref - corner))
    return total


@pytest.mark.parametrize("d", [2, 3, 4, 5])
def test_matches_inclusion_exclusion_on_random_sets(d):
    rng = np.random.default_rng(d)
    for _ in range(20):
        # rounded to a coarse grid: ties and duplicates; some points beyond the reference
        points = rng.uniform(0, 1.1, size=(int(rng.integers(1, 9)), d)).round(1)
        ref = np.full(d, 1.05)
        assert hypervolume(points, ref) == pytest.approx(_inclusion_exclusion(points, ref), abs=1e-12)


def test_default_reference_is_worst_plus_a_tenth_of_the_range():
    values = np.array([[0.0, 10.0], [2.0, 5.0], [1.0, 0.0]])
    assert default_reference(values) == pytest.approx([2.2, 11.0])
    # no spread: a tenth of the value itself
    assert default_reference(np.array([[3.0, 0.0]])) == pytest.approx([3.3, 0.1])
