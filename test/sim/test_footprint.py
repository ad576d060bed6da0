import numpy as np
import pytest

from vn_perception.sim.footprint import convex_footprint, distance, inside_rectangle, overlaps

SQUARE = convex_footprint(np.array([[0, 0], [1, 0], [1, 1], [0, 1], [0.5, 0.5]], dtype=float))


def test_hull_is_counter_clockwise_without_inner_points():
    assert len(SQUARE) == 4
    x, y = SQUARE[:, 0], SQUARE[:, 1]
    assert 0.5 * np.sum(x * np.roll(y, -1) - np.roll(x, -1) * y) == pytest.approx(1.0)  # positive area: CCW


@pytest.mark.parametrize("shift, expected", [((2.0, 0.0), 1.0), ((1.0, 1.0), 0.0), ((0.5, 0.2), 0.0),
                                             ((2.0, 2.0), np.sqrt(2.0)), ((0.0, -1.25), 0.25)])
def test_distance_and_overlap(shift, expected):
    other = SQUARE + np.asarray(shift)
    assert distance(SQUARE, other) == pytest.approx(expected)
    assert distance(other, SQUARE) == pytest.approx(expected)
    assert overlaps(SQUARE, other) == (expected == 0.0)


def test_rotated_polygons_separated_diagonally():
    diamond = convex_footprint(np.array([[0, -1], [1, 0], [0, 1], [-1, 0]], dtype=float)) * 0.5
    assert not overlaps(diamond + [1.6, 0.5], SQUARE)       # the diamond's left tip is 0.1 right of the square
    assert distance(diamond + [1.6, 0.5], SQUARE) == pytest.approx(0.1)


def test_inside_rectangle():
    centred = SQUARE - 0.5
    assert inside_rectangle(centred, (0.5, 0.5))
    assert not inside_rectangle(centred, (0.5, 0.5), margin=0.01)
    assert not inside_rectangle(centred + [0.2, 0], (0.6, 0.6))
