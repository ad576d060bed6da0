"""Container insides rejoining their outsides (perception/merging.py), on hand-built point sets seen by an
oblique camera (sensor frame: camera at the origin looking along +z, table 45 degrees below the view)."""
import numpy as np
import pytest

from vn_perception.perception.merging import ClusterShape, container_parents, root_groups
from vn_perception.perception.plane import Plane, plane_axes
from vn_perception.perception.segmentation import Cluster, SegmentationConfig

#: table frame in the sensor frame: up (the plane normal, towards the camera), away from the camera, sideways
UP = np.array([0.0, -1.0, -1.0]) / np.sqrt(2)
AWAY = np.array([0.0, -1.0, 1.0]) / np.sqrt(2)
SIDE = np.array([1.0, 0.0, 0.0])
TABLE_CENTRE = np.array([0.0, 0.4, 1.0])
PLANE = Plane(UP, float(-UP @ TABLE_CENTRE))
#: a mug: outer radius, wall thickness, height (metres)
RADIUS_M, WALL_M, HEIGHT_M = 0.04, 0.005, 0.09


def _points(side, away, up):
    """(n, 3) sensor-frame points of table coordinates (sideways, away, up) around TABLE_CENTRE."""
    return (TABLE_CENTRE + np.outer(side, SIDE) + np.outer(away, AWAY) + np.outer(up, UP)).astype(np.float32)


def _wall(radius, angles, low, high, count=600, seed=0):
    rng = np.random.default_rng(seed)
    theta = rng.uniform(*angles, count)
    return _points(radius * np.cos(theta), radius * np.sin(theta), rng.uniform(low, high, count))


def _box(side, away, low, high, count=600, seed=0):
    rng = np.random.default_rng(seed)
    return _points(rng.uniform(*side, count), rng.uniform(*away, count), rng.uniform(low, high, count))


def _parents(*point_sets, config=SegmentationConfig()):
    flat = np.concatenate(point_sets)
    bounds = np.cumsum([0] + [len(p) for p in point_sets])
    clusters = [Cluster(np.arange(a, b), flat[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    height = PLANE.signed_distance(flat)
    shapes = [ClusterShape.of(c, height, plane_axes(PLANE.normal)) for c in clusters]
    return container_parents(shapes, PLANE.normal, config)


def test_mug_inside_joins_its_outside():
    outside = _wall(RADIUS_M, (-np.pi, 0.0), 0.01, HEIGHT_M)                   # the near half, facing the camera
    inside = _wall(RADIUS_M - WALL_M, (0.0, np.pi), HEIGHT_M / 2, HEIGHT_M, seed=1)  # far inner wall, seen over the rim
    assert list(_parents(outside, inside)) == [0, 0]
    assert [list(g) for g in root_groups(np.array([0, 0]))] == [[0, 1]]


@pytest.mark.parametrize("config", [SegmentationConfig(interior_merge_gap_m=0.001),
                                    SegmentationConfig(interior_min_bottom_m=HEIGHT_M)])
def test_mug_inside_stays_apart_beyond_the_gap_or_when_low(config):
    outside = _wall(RADIUS_M, (-np.pi, 0.0), 0.01, HEIGHT_M)
    inside = _wall(RADIUS_M - WALL_M, (0.0, np.pi), HEIGHT_M / 2, HEIGHT_M, seed=1)
    assert list(_parents(outside, inside, config=config)) == [0, 1]


def test_object_stacked_on_top_stays_apart():
    block = _box((-0.05, 0.05), (-0.05, 0.05), 0.01, 0.06)
    on_top = _box((-0.025, 0.025), (0.0, 0.04), 0.065, 0.1, seed=1)
    assert list(_parents(block, on_top)) == [0, 1]


def test_object_standing_behind_stays_apart():
    front = _box((-0.05, 0.05), (-0.05, 0.0), 0.01, 0.1)
    behind = _box((-0.02, 0.02), (0.005, 0.03), 0.01, 0.05, seed=1)            # touches the table
    assert list(_parents(front, behind)) == [0, 1]


def test_root_groups_follow_chains():
    groups = root_groups(np.array([0, 0, 1, 3]))
    assert sorted(map(list, groups)) == [[0, 1, 2], [3]]
