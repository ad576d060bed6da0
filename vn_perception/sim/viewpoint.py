"""Where the virtual camera stands: look-at poses around a target on the table, static or along an arc.

Poses are camera -> world: `p_world = rotation @ p_camera + eye`, the camera frame being the optical frame
(x right, y down, z forward). The world's z axis is up (the table top is z = 0).
"""
from dataclasses import dataclass

import numpy as np

WORLD_UP = np.array([0.0, 0.0, 1.0])


@dataclass(frozen=True)
class ViewSampling:
    """Ranges of the viewpoint: distance to the target (m), downward look angle (deg), arc swept over a scene's
    frames (deg of azimuth, 0 = static camera), jitter of the target point (m)."""

    distance_m: tuple = (0.6, 1.2)
    elevation_deg: tuple = (30.0, 60.0)
    arc_deg: float = 0.0
    target_jitter_m: float = 0.03


def look_at(eye, target, up=WORLD_UP):
    """Optical-frame camera at `eye` looking at `target`: rotation `[3, 3]` (camera -> world)."""
    forward = np.asarray(target, dtype=float) - np.asarray(eye, dtype=float)
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, up)
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    return np.stack([right, down, forward], axis=1)


def orbit_eye(target, distance_m, elevation_rad, azimuth_rad):
    """Camera position `[3]` at `distance_m` from `target`, `elevation_rad` above it, at `azimuth_rad`."""
    offset = np.array([np.cos(elevation_rad) * np.cos(azimuth_rad), np.cos(elevation_rad) * np.sin(azimuth_rad),
                       np.sin(elevation_rad)])
    return np.asarray(target, dtype=float) + distance_m * offset


def sample_viewpoints(target, n_frames, rng, sampling=ViewSampling()):
    """`n_frames` camera poses `(rotation [3, 3], eye [3])` looking at `target` (+ jitter): one random distance,
    elevation and azimuth per call; the azimuth sweeps `sampling.arc_deg` (centred) across the frames."""
    target = np.asarray(target, dtype=float) + rng.uniform(-1, 1, 3) * sampling.target_jitter_m * [1, 1, 0]
    distance_m = rng.uniform(*sampling.distance_m)
    elevation = np.deg2rad(rng.uniform(*sampling.elevation_deg))
    azimuth = rng.uniform(0, 2 * np.pi)
    sweep = np.deg2rad(sampling.arc_deg) * (np.linspace(-0.5, 0.5, n_frames) if n_frames > 1 else np.zeros(1))
    poses = []
    for offset in sweep:
        eye = orbit_eye(target, distance_m, elevation, azimuth + offset)
        poses.append((look_at(eye, target), eye))
    return poses
