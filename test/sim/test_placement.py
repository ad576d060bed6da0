"""Placement is physically plausible: objects rest on the table in stable poses, footprints never overlap."""
import numpy as np
import pytest
from scipy.spatial import QhullError

from vn_perception.sim import PlacementConfig, Table, place_objects
from vn_perception.sim.footprint import convex_footprint, distance

#: contact points: hull vertices within this height of the table top (metres)
CONTACT_TOLERANCE_M = 1e-3


def _support_polygon(world_vertices):
    """Convex hull (x-y) of the contact points; a segment (2 extreme points) for a line contact."""
    contact = world_vertices[world_vertices[:, 2] < CONTACT_TOLERANCE_M, :2]
    try:
        return convex_footprint(contact)
    except QhullError:  # collinear contact (a lying cylinder)
        far = np.argmax(np.linalg.norm(contact - contact[0], axis=1))
        return contact[[np.argmax(np.linalg.norm(contact - contact[far], axis=1)), far]]


def test_objects_rest_stably_on_the_table(primitive_models):
    rng = np.random.default_rng(3)
    placed = place_objects(primitive_models * 3, rng, Table(), PlacementConfig())
    assert len(placed) >= 6
    for obj in placed:
        hull = obj.world_mesh().convex_hull
        assert hull.vertices[:, 2].min() == pytest.approx(0.0, abs=1e-6)       # on the table top (z = 0)
        # static equilibrium: the centre of mass is above the support polygon
        com = hull.center_mass[:2][None]
        assert distance(com, _support_polygon(hull.vertices)) < 2e-3


def test_footprints_never_overlap_and_some_touch(primitive_models):
    config = PlacementConfig(touch_probability=1.0)
    placed = place_objects(primitive_models * 2, np.random.default_rng(7), Table(), config)
    assert len(placed) == 6
    gaps = np.array([[distance(a.footprint, b.footprint) if a is not b else np.inf for b in placed] for a in placed])
    assert gaps.min() >= config.min_gap_m * 0.999
    # every object after the first was slid against a neighbour: its nearest gap is a touching gap
    assert np.all(gaps.min(axis=1) <= config.touch_gap_m[1] + 1e-6)
    # footprints are those of the posed meshes, inside the table
    for obj in placed:
        vertices = obj.world_mesh().vertices
        assert np.all(np.abs(vertices[:, :2]) <= Table().half_extents)
        hull = convex_footprint(vertices[:, :2])
        assert {tuple(v) for v in np.round(hull, 9)} == {tuple(v) for v in np.round(obj.footprint, 9)}


def test_stable_poses_include_upright_and_lying(primitive_models):
    can = primitive_models[1]
    rotations, probabilities = can.stable_poses
    assert probabilities.sum() == pytest.approx(1.0)
    axis_up = np.abs(rotations[:, 2, 2])  # |z component of the can's axis| in the resting frame
    assert np.any(axis_up > 0.99) and np.any(axis_up < 0.01)
