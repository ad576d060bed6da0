"""Real YCB-Video frames (`shared/data/real_dev/ycbv_real_dev.npz`) as labelled object clouds.

For every annotated object of every frame:
  * points: the pixels of its ground-truth mask with a depth reading (`depth x depth_scale_m`, 0 = none),
    back-projected with the frame's K (camera optical frame, metres). The masks bleed onto the background
    at the silhouette (3-8 % of the points lie > 3 cm behind the object), so, as the segmentation stage of
    the pipeline would, only the largest Euclidean cluster is kept (`largest_cluster`: 4 mm voxels linked
    within 1.5 cm; on the dev frames it keeps a median 99 % of the points and leaves 0.5 % farther than 2 cm
    from the posed model, against 2.5 % before), then at most `max_points` random points;
  * rotation: the ground-truth object -> camera rotation of the pose;
  * visibility: mask pixels with a depth reading / pixels of the object's unoccluded silhouette, obtained by
    ray casting its catalog mesh at the ground-truth pose with the frame's K (1 = fully seen, with depth).
Frames come from 3 videos of 20 consecutive frames: count 3 scenes, not 60 independent samples.
"""
from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import cKDTree

from vn_perception.data.ycbv_frames import read_ycbv_frames, visibility


@dataclass
class RealObject:
    """One annotated object: `points [N, 3]` (camera frame, m), `name`, `rotation [3, 3]` (object -> camera),
    `translation [3]`, `visibility` in [0, 1], `frame` (index in the file), `video` (id string)."""

    points: np.ndarray
    name: str
    rotation: np.ndarray
    translation: np.ndarray
    visibility: float
    frame: int
    video: str


def largest_cluster(points, tolerance_m, voxel_m):
    """The points `[N, 3]` of the largest connected component: points are binned into `voxel_m` cubes,
    voxel centroids closer than `tolerance_m` are linked, and the points of the largest group are kept."""
    keys = np.floor(points / voxel_m).astype(np.int64)
    _, inverse, counts = np.unique(keys, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    centres = np.zeros((len(counts), 3))
    np.add.at(centres, inverse, points)
    centres /= counts[:, None]
    pairs = cKDTree(centres).query_pairs(tolerance_m, output_type="ndarray")
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(len(counts),) * 2)
    _, labels = connected_components(graph, directed=False)
    biggest = np.bincount(labels, weights=counts).argmax()
    return points[labels[inverse] == biggest]


def real_objects(path, meshes, min_visibility=0.0, cluster_tolerance_m=0.015, voxel_m=0.004, max_points=4096,
                 seed=0, frames=None):
    """Objects of the real frames file `path` with visibility >= `min_visibility` -> list of `RealObject`.

    `frames`: indices of the frames to read (None: all).
    `meshes`: {class name: trimesh mesh in its object frame} (the catalog's ycbv meshes), used for the
    visibility. Deterministic for `seed` (the random subset of at most `max_points` points per object).
    """
    rng = np.random.default_rng(seed)
    out = []
    for frame in read_ycbv_frames(path, frames):
        for obj in frame.objects:
            if not obj.mask.any():
                continue
            seen = visibility(obj, frame.camera, meshes[obj.name])
            if seen < min_visibility:
                continue
            points = largest_cluster(frame.points[obj.mask].astype(np.float64), cluster_tolerance_m, voxel_m)
            if len(points) > max_points:
                points = points[rng.choice(len(points), max_points, replace=False)]
            out.append(RealObject(points.astype(np.float32), obj.name, obj.rotation, obj.translation,
                                  min(seen, 1.0), frame.index, frame.video))
    return out
