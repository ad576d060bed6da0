"""Dominant plane: vectorised RANSAC (all hypotheses scored at once) + SVD refit.

A plane is `n . p + d = 0` with a unit normal `n` (3,) and offset `d` (metres); `signed_distance` is
positive on the side the normal points to.

The distances of many points (a whole frame, or every sample point to every hypothesis) are summed per
coordinate with elementwise numpy operations, not with a BLAS matrix product: numpy's BLAS splits such
products over threads, which on a busy 2-core machine wait for a free core (a 0.2 ms product measured at
15 ms wall, 8 ms CPU) and contend with torch's threads in the node; the elementwise form stays on the
calling thread.
"""
from dataclasses import dataclass

import numpy as np

from vn_perception.constants import EPS


@dataclass(frozen=True)
class Plane:
    """Plane `normal . p + offset = 0`; `normal` (3,) unit, `offset` metres; `inlier_fraction` of the fit."""
    normal: np.ndarray
    offset: float
    inlier_fraction: float = 0.0

    def signed_distance(self, points):
        """(..., 3) points -> (...) signed distances in metres (positive on the normal's side), in the
        points' dtype."""
        normal = self.normal.astype(points.dtype)
        return (points[..., 0] * normal[0] + points[..., 1] * normal[1] + points[..., 2] * normal[2]
                + np.asarray(self.offset, dtype=points.dtype))

    def facing(self, viewpoint):
        """This plane with its normal turned towards `viewpoint` (3,) (e.g. the camera at the origin)."""
        if float(np.dot(self.normal, viewpoint) + self.offset) >= 0:
            return self
        return Plane(-self.normal, -self.offset, self.inlier_fraction)


def fit_plane_svd(points):
    """Least-squares plane through (M, 3) points, M >= 3: the normal is the smallest singular vector."""
    points = np.asarray(points, dtype=np.float64)
    centroid = points.mean(axis=0)
    _, _, vt = np.linalg.svd(points - centroid, full_matrices=False)
    normal = vt[-1]
    return Plane(normal, float(-normal @ centroid))


def ransac_plane(points, distance_m, hypotheses, rng, refit_iterations=2):
    """Dominant plane of (M, 3) points (float), or None when M < 3 or every hypothesis is degenerate.

    Draws `hypotheses` random point triples, scores all of them against all points at once (an (H, M)
    distance array; inlier: |distance| < `distance_m`), keeps the best and refits it by SVD on
    its inliers `refit_iterations` times. Feed it a random subsample (a few thousand points): the cost is
    O(M H). `inlier_fraction` of the result is measured on `points`.
    """
    points = np.asarray(points, dtype=np.float32)
    count = len(points)
    if count < 3:
        return None
    triples = points[rng.integers(0, count, size=(hypotheses, 3))]            # (H, 3 points, 3)
    normals = np.cross(triples[:, 1] - triples[:, 0], triples[:, 2] - triples[:, 0])
    norms = np.linalg.norm(normals, axis=1)
    usable = norms > EPS
    if not usable.any():
        return None
    normals = normals[usable] / norms[usable, None]
    offsets = -np.einsum("hc,hc->h", normals, triples[usable, 0])
    coords = np.ascontiguousarray(points.T)                                      # (3, M)
    distances = normals[:, :1] * coords[0]                                       # (H, M)
    for axis in (1, 2):
        distances += normals[:, axis:axis + 1] * coords[axis]
    distances += offsets[:, None]
    inliers = np.abs(distances) < distance_m
    best = int(np.argmax(np.count_nonzero(inliers, axis=1)))
    mask = inliers[best]
    plane = Plane(normals[best].astype(np.float64), float(offsets[best]))
    for _ in range(refit_iterations):
        if np.count_nonzero(mask) < 3:
            break
        plane = fit_plane_svd(points[mask])
        mask = np.abs(plane.signed_distance(points)) < distance_m
    return Plane(plane.normal, plane.offset, float(np.count_nonzero(mask)) / count)


def plane_axes(normal):
    """Two unit vectors (2, 3) spanning the plane with unit `normal` (3,), orthogonal to it and each other."""
    helper = np.eye(3)[int(np.argmin(np.abs(normal)))]
    first = np.cross(normal, helper)
    first /= np.linalg.norm(first)
    return np.stack([first, np.cross(normal, first)])


@dataclass(frozen=True)
class SupportPolygon:
    """Convex hull of a plane's inliers in plane coordinates: `axes` (2, 3), hull `equations` (F, 3) with
    `equations[:, :2] @ uv + equations[:, 2] <= 0` inside."""
    axes: np.ndarray
    equations: np.ndarray

    @classmethod
    def from_points(cls, plane, points):
        """Hull of (M, 3) points (M >= 3, not collinear) projected onto `plane`; None when degenerate."""
        from scipy.spatial import ConvexHull, QhullError
        axes = plane_axes(plane.normal)
        try:
            hull = ConvexHull(np.asarray(points, dtype=np.float64) @ axes.T)
        except (QhullError, ValueError):
            return None
        return cls(axes, hull.equations)

    def contains(self, points, margin_m=0.0):
        """(K, 3) points -> (K,) bool: projection inside the hull grown by `margin_m` metres."""
        uv = np.asarray(points, dtype=np.float64) @ self.axes.T
        return np.all(uv @ self.equations[:, :2].T + self.equations[:, 2] <= margin_m, axis=1)
