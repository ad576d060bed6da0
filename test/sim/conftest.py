"""Fixtures of the simulation tests: object models made of trimesh primitives (no shared data needed)."""
import pytest
import trimesh

from vn_perception.sim import ObjectModel


@pytest.fixture(scope="module")
def primitive_models():
    """A box (12 x 8 x 5 cm), a cylinder (r 3.5 cm, h 12 cm) and a capsule-like cone: three distinct shapes."""
    return [ObjectModel("box", trimesh.creation.box((0.12, 0.08, 0.05))),
            ObjectModel("can", trimesh.creation.cylinder(radius=0.035, height=0.12, sections=32)),
            ObjectModel("cone", trimesh.creation.cone(radius=0.04, height=0.09, sections=32))]
