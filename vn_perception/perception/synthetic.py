"""Synthetic tabletop clouds with ground truth, for tests and quick checks of the segmentation.

    scene = tabletop_scene([Shape("box", (0.08, 0.06, 0.12), (0.0, 0.05))])
    scene.points      # (H, W, 3) float32 organized cloud, NaN = no return
    scene.instance    # (H, W) int: 0 = table / background, k = objects[k - 1]
"""
from dataclasses import dataclass, field

import numpy as np
import trimesh

from vn_perception.data.camera import PinholeCamera, posed, render_depth

#: table slab: side and thickness (metres)
TABLE_SIDE_M, TABLE_THICKNESS_M = 1.5, 0.02


@dataclass(frozen=True)
class Shape:
    """An object standing on the table: kind 'box' (size = x, y, z extents) or 'cylinder' (size = radius,
    height); `at` (2,) table coordinates of its base centre (metres, x right, y away from the camera);
    `yaw_rad` about the table normal."""
    kind: str
    size: tuple
    at: tuple
    yaw_rad: float = 0.0

    def mesh(self):
        if self.kind == "box":
            return trimesh.creation.box(extents=self.size)
        if self.kind == "cylinder":
            return trimesh.creation.cylinder(radius=self.size[0], height=self.size[1], sections=48)
        raise ValueError(f"unknown shape kind {self.kind!r}: expected 'box' or 'cylinder'")

    @property
    def height_m(self):
        return self.size[2] if self.kind == "box" else self.size[1]


@dataclass
class TabletopScene:
    """points (H, W, 3) float32 (NaN = none); instance (H, W) int64 (0 = table/background); table
    `normal` (3,) towards the camera and `offset` (normal . p + offset = 0 on the table top)."""
    points: np.ndarray
    instance: np.ndarray
    normal: np.ndarray
    offset: float
    shapes: list = field(default_factory=list)


def _rotation_z(angle_rad):
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def tabletop_scene(shapes, camera=PinholeCamera.d435(), distance_m=0.9, elevation_deg=50.0, depth_noise_m=0.0, rng=None):
    """Ray-cast `shapes` standing on a table seen from `distance_m` (along the optical axis to the table
    centre) by a camera looking down at `elevation_deg`; optional Gaussian depth noise (metres)."""
    elevation = np.deg2rad(elevation_deg)
    normal = np.array([0.0, -np.cos(elevation), -np.sin(elevation)])          # table up, in the camera frame
    across = np.array([1.0, 0.0, 0.0])
    table_axes = np.stack([across, np.cross(normal, across), normal], axis=1)   # columns: table x, y, z
    centre = np.array([0.0, 0.0, distance_m])
    meshes = [posed(trimesh.creation.box(extents=(TABLE_SIDE_M, TABLE_SIDE_M, TABLE_THICKNESS_M)), table_axes,
                    centre - normal * TABLE_THICKNESS_M / 2)]
    for shape in shapes:
        rotation = table_axes @ _rotation_z(shape.yaw_rad)
        base = centre + table_axes @ np.array([shape.at[0], shape.at[1], shape.height_m / 2])
        meshes.append(posed(shape.mesh(), rotation, base))
    rendered = render_depth(meshes, camera)
    depth = rendered.depth
    if depth_noise_m > 0:
        rng = rng if rng is not None else np.random.default_rng(0)
        depth = depth + rng.normal(0.0, depth_noise_m, depth.shape).astype(np.float32)
    instance = np.where(rendered.instance > 0, rendered.instance, 0).astype(np.int64)
    return TabletopScene(camera.back_project(depth), instance, normal, float(-normal @ centre), list(shapes))
