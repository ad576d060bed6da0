"""Physically plausible object placement on a table top: stable resting poses, random yaw, packed footprints.

World frame: the table top is the plane z = 0, centred at the origin, x along its length, z up.
Each object rests in one of its stable poses (trimesh `compute_stable_poses` on the convex hull, sampled by the
pose probabilities: upright, lying, ...), turned by a random yaw about z, its lowest point on z = 0. Footprints
(convex hulls of the posed mesh seen from above) never overlap; with `touch_probability` an object is slid
against an already placed neighbour until the footprints are `touch_gap_m` apart (touching objects are what
makes segmentation hard), otherwise it is dropped at a random spot of a disk around the table centre.
"""
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import trimesh

from vn_perception.sim.footprint import convex_footprint, distance, inside_rectangle, overlaps

#: bisection steps when sliding an object against its neighbour (halves a ~0.5 m bracket to < 1e-9 m)
_SLIDE_STEPS = 40


@dataclass(frozen=True)
class Table:
    """A finite table top of `size_m` (x, y) and `thickness_m`; its top face is the plane z = 0."""

    size_m: tuple = (1.2, 0.8)
    thickness_m: float = 0.03

    @property
    def half_extents(self):
        return np.asarray(self.size_m, dtype=float) / 2

    def mesh(self):
        """The table top as a box mesh in the world frame."""
        box = trimesh.creation.box(extents=(*self.size_m, self.thickness_m))
        box.apply_translation((0.0, 0.0, -self.thickness_m / 2))
        return box


@dataclass(frozen=True)
class PlacementConfig:
    """How objects are spread on the table (metres)."""

    scatter_radius_m: float = 0.22        # free objects land within this distance of the table centre
    touch_probability: float = 0.5        # chance an object is slid against an already placed one
    touch_gap_m: tuple = (0.002, 0.008)   # footprint gap to that neighbour (uniform in this range)
    min_gap_m: float = 0.002              # smallest footprint gap between any two objects
    edge_margin_m: float = 0.02           # footprints keep this far from the table edges
    max_attempts: int = 200               # tries per object before it is left out


class ObjectModel:
    """A catalog object to place: class `label`, `name`, `mesh` (metres, object frame), its stable poses."""

    def __init__(self, label, mesh, name=None):
        self.label, self.mesh, self.name = str(label), mesh, str(name or label)

    @classmethod
    def from_catalog_entry(cls, entry):
        """From a `data.catalog.CatalogEntry` (mesh loaded now)."""
        return cls(entry.label, entry.load_mesh(), entry.name)

    @cached_property
    def extents(self):
        """Axis-aligned extents `[3]` of the mesh in its own frame (metres)."""
        return np.asarray(self.mesh.extents, dtype=float)

    @cached_property
    def stable_poses(self):
        """`(rotations [P, 3, 3], probabilities [P])` of the resting poses on a plane, most likely first.

        Computed on the convex hull with the hull's centre of mass (the catalog meshes are not watertight, so
        their own mass properties are undefined; a filled hull is the uniform-density approximation)."""
        hull = self.mesh.convex_hull
        with np.errstate(invalid="ignore"):  # trimesh's sqrt of tiny negative round-off on degenerate faces
            transforms, probabilities = trimesh.poses.compute_stable_poses(hull, center_mass=hull.center_mass)
        probabilities = np.asarray(probabilities, dtype=float)
        return np.asarray(transforms)[:, :3, :3], probabilities / probabilities.sum()


def yaw(angle_rad):
    """Rotation `[3, 3]` by `angle_rad` about +z."""
    c, s = np.cos(angle_rad), np.sin(angle_rad)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def resting_rotation(model, rng):
    """A stable pose of `model`, sampled by probability, turned by a uniform random yaw: rotation `[3, 3]`."""
    rotations, probabilities = model.stable_poses
    return yaw(rng.uniform(0, 2 * np.pi)) @ rotations[rng.choice(len(probabilities), p=probabilities)]


@dataclass
class PlacedObject:
    """An object on the table: `rotation [3, 3]` and `translation [3]` map object to world coordinates;
    `footprint [K, 2]` is its convex footprint in world x-y."""

    model: ObjectModel
    rotation: np.ndarray
    translation: np.ndarray
    footprint: np.ndarray

    def world_mesh(self):
        """The mesh moved into the world frame."""
        from vn_perception.data.camera import posed
        return posed(self.model.mesh, self.rotation, self.translation)


def _slide_to_gap(shape, anchor, start_xy, direction, gap):
    """Offset `s >= 0` so that `shape + start_xy + s * direction` lies `gap` from convex polygon `anchor`.

    The distance between convex sets is convex in a translation, zero while they overlap and growing after, so
    bisection between an overlapping and a far offset finds the first offset at distance `gap`."""
    far = np.abs(shape).max() * 2 + np.abs(anchor - start_xy).max() * 2 + gap
    lo, hi = 0.0, far
    for _ in range(_SLIDE_STEPS):
        mid = (lo + hi) / 2
        if distance(shape + start_xy + mid * direction, anchor) < gap:
            lo = mid
        else:
            hi = mid
    return hi


def place_objects(models, rng, table=Table(), config=PlacementConfig()):
    """Place `models` one by one on `table`; returns the `PlacedObject`s (a model that finds no free spot in
    `config.max_attempts` tries is left out)."""
    placed = []
    for model in models:
        for _ in range(config.max_attempts):
            rotation = resting_rotation(model, rng)
            vertices = model.mesh.vertices @ rotation.T
            shape = convex_footprint(vertices[:, :2])
            if placed and rng.random() < config.touch_probability:
                anchor = placed[rng.integers(len(placed))]
                angle = rng.uniform(0, 2 * np.pi)
                direction = np.array([np.cos(angle), np.sin(angle)])
                start = anchor.translation[:2]
                xy = start + direction * _slide_to_gap(shape, anchor.footprint, start, direction,
                                                       rng.uniform(*config.touch_gap_m))
            else:
                radius, angle = config.scatter_radius_m * np.sqrt(rng.random()), rng.uniform(0, 2 * np.pi)
                xy = radius * np.array([np.cos(angle), np.sin(angle)])
            footprint = shape + xy
            if not inside_rectangle(footprint, table.half_extents, config.edge_margin_m):
                continue
            if any(overlaps(footprint, p.footprint) or distance(footprint, p.footprint) < config.min_gap_m * 0.999
                   for p in placed):
                continue
            translation = np.array([xy[0], xy[1], -vertices[:, 2].min()])
            placed.append(PlacedObject(model, rotation, translation, footprint))
            break
    return placed
