"""Voxel-grid downsampling: one centroid per occupied cubic voxel."""
from dataclasses import dataclass

import numpy as np

#: bits per axis of a packed voxel key (three axes in one int64): 2**21 voxels per axis, e.g. 10 km at 5 mm
_KEY_BITS = 21


@dataclass(frozen=True)
class VoxelGrid:
    """Occupied voxels of a point set.

    centroids (V, 3) float32: mean of the points in each voxel; counts (V,): points per voxel;
    point_voxel (N,): the voxel index of every input point (so `centroids[point_voxel]` is per point).
    """
    centroids: np.ndarray
    counts: np.ndarray
    point_voxel: np.ndarray


def voxel_downsample(points, voxel_size_m):
    """(N, 3) finite points -> VoxelGrid with cubic voxels of edge `voxel_size_m` (> 0).

    Raises ValueError when the points span more voxels per axis than a packed key holds.
    """
    points = np.asarray(points, dtype=np.float32)
    if len(points) == 0:
        return VoxelGrid(np.empty((0, 3), np.float32), np.empty(0, np.int64), np.empty(0, np.int64))
    cells = np.floor((points - points.min(axis=0)) / np.float32(voxel_size_m)).astype(np.int64)
    if cells.max() >= 1 << _KEY_BITS:
        raise ValueError(f"points span more than {1 << _KEY_BITS} voxels of {voxel_size_m} m per axis")
    keys = (cells[:, 0] << (2 * _KEY_BITS)) | (cells[:, 1] << _KEY_BITS) | cells[:, 2]
    _, point_voxel, counts = np.unique(keys, return_inverse=True, return_counts=True)
    point_voxel = point_voxel.reshape(-1)
    sums = np.stack([np.bincount(point_voxel, weights=points[:, axis], minlength=len(counts))
                     for axis in range(3)], axis=1)
    return VoxelGrid((sums / counts[:, None]).astype(np.float32), counts, point_voxel)
