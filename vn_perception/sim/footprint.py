"""Convex footprints on the table plane: hulls, overlap and distance of convex polygons (metres, table x-y).

Polygons are `[K, 2]` vertex arrays in counter-clockwise order (what `convex_footprint` returns).
"""
import numpy as np
from scipy.spatial import ConvexHull


def convex_footprint(points_xy):
    """Counter-clockwise convex hull `[K, 2]` of points `[N, 2]` (scipy returns 2-D hull vertices CCW)."""
    points_xy = np.asarray(points_xy, dtype=float)
    return points_xy[ConvexHull(points_xy).vertices]


def _outward_normals(polygon):
    edges = np.roll(polygon, -1, axis=0) - polygon
    return np.stack([edges[:, 1], -edges[:, 0]], axis=1)  # CCW polygon: (dy, -dx) points outwards


def overlaps(a, b):
    """True when convex polygons `a` and `b` intersect (separating-axis test; touching counts as overlap)."""
    for axes in (_outward_normals(a), _outward_normals(b)):
        pa, pb = a @ axes.T, b @ axes.T                          # [K, E] projections on each axis
        if np.any((pa.max(axis=0) < pb.min(axis=0)) | (pb.max(axis=0) < pa.min(axis=0))):
            return False
    return True


def _point_to_edges(points, polygon):
    """Distances `[P]` from each point `[P, 2]` to the nearest edge of `polygon`."""
    start, end = polygon, np.roll(polygon, -1, axis=0)
    edge = end - start                                            # [E, 2]
    rel = points[:, None, :] - start[None]                        # [P, E, 2]
    s = np.clip(np.einsum("pek,ek->pe", rel, edge) / np.maximum(np.einsum("ek,ek->e", edge, edge), 1e-18), 0, 1)
    return np.linalg.norm(rel - s[..., None] * edge[None], axis=-1).min(axis=1)


def distance(a, b):
    """Euclidean distance between convex polygons `a` and `b` (0 when they overlap)."""
    if overlaps(a, b):
        return 0.0
    return float(min(_point_to_edges(a, b).min(), _point_to_edges(b, a).min()))


def inside_rectangle(polygon, half_extents, margin=0.0):
    """True when `polygon` lies inside the axis-aligned rectangle `|x| <= hx - margin, |y| <= hy - margin`."""
    return bool(np.all(np.abs(polygon) <= np.asarray(half_extents, dtype=float) - margin))
