"""Re-joining the inside of an open container (mug, cup, bowl, box) to its outside.

Seen from above, a container's inside shows through its opening behind the near rim; the rim is a depth
jump (and the sensor drops pixels along it), so the grid components split the inside from the outside and
neither half alone matches the object. A fragment B joins a nearer cluster A when B
  - does not stand on the table (its bottom percentile is above `interior_min_bottom_m`),
  - sits lower than A's top (its median height is below A's top percentile: it is seen through A's opening,
    not resting on top of A, which is how a stacked object shows),
  - lies within A's footprint on the table extended away from the camera by A's width (sideways within A's
    lateral extent, behind A by at most A's width: inside a body about as deep as it is wide), both with a
    margin of `interior_margin_m`,
  - and comes within `interior_merge_gap_m` of A in 3-D.
A small object fully hidden at its base behind a bigger one, lower than its top and within these bounds
would be merged wrongly; the tests keep that case narrow.
"""
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from vn_perception.constants import EPS
from vn_perception.perception.plane import plane_axes

#: percentiles of a cluster's heights above the plane taken as its bottom, middle and top
BOTTOM_PERCENTILE, MIDDLE_PERCENTILE, TOP_PERCENTILE = 5, 50, 95
#: the sideways/behind extents of a fragment ignore this percentile at either end (stray points)
_EXTENT_PERCENTILES = (BOTTOM_PERCENTILE, TOP_PERCENTILE)
#: footprints and 3-D gaps are measured on about this many evenly strided points of a cluster (the cost
#: stays flat in the cluster size; the gap's error is a few point spacings, millimetres, against a
#: centimetre-scale tolerance)
SAMPLE_POINTS = 1024


@dataclass(frozen=True)
class ClusterShape:
    """Per-cluster summary on the support plane, measured on about SAMPLE_POINTS strided points of it:
    `heights` (3,) bottom/middle/top metres above the plane, `mean` (3,) sensor-frame centroid, `sample`
    (n, 3) the points, `footprint` (n, 2) their plane coordinates and `low`, `high` (3,) the corners of
    their axis-aligned bounding box (sensor frame)."""
    heights: np.ndarray
    mean: np.ndarray
    sample: np.ndarray
    footprint: np.ndarray
    low: np.ndarray
    high: np.ndarray

    @classmethod
    def of(cls, cluster, height, axes):
        """Summary of a Cluster (`indices`, `points`) given (M,) `height` of every input point above the
        plane spanned by `axes` (2, 3)."""
        stride = max(len(cluster.indices) // SAMPLE_POINTS, 1)
        sample = cluster.points[::stride]
        coords = np.ascontiguousarray(sample.T, dtype=np.float64)       # (3, n): 8x faster min / max
        return cls(np.percentile(height[cluster.indices[::stride]],
                                 (BOTTOM_PERCENTILE, MIDDLE_PERCENTILE, TOP_PERCENTILE)),
                   sample.mean(axis=0), sample, sample @ axes.T.astype(sample.dtype),
                   coords.min(axis=1), coords.max(axis=1))


def box_gap(a, b):
    """Distance (metres) between the bounding boxes of two ClusterShapes' samples (0 when they overlap): no
    two of their sample points are closer, so a pair farther apart than a gap limit needs no k-d tree."""
    return float(np.linalg.norm(np.maximum(np.maximum(a.low - b.high, b.low - a.high), 0.0)))


def _inside_behind(front, back, normal, axes, margin_m):
    """Whether `back`'s footprint lies within `front`'s footprint extended away from the camera by its width."""
    away = (front.mean - normal * float(front.mean @ normal)) @ axes.T       # viewing direction on the table
    away /= max(float(np.linalg.norm(away)), EPS)
    side = np.array([-away[1], away[0]])
    front_side, front_away = front.footprint @ side, front.footprint @ away
    # both percentiles of both directions in one call (the same values as one call per direction)
    (back_side, back_away) = np.percentile(np.stack((back.footprint @ side, back.footprint @ away)),
                                           _EXTENT_PERCENTILES, axis=1).T
    width = float(front_side.max() - front_side.min())
    return (back_side[0] >= front_side.min() - margin_m and back_side[1] <= front_side.max() + margin_m
            and back_away[0] >= front_away.min() - margin_m and back_away[1] <= front_away.max() + width)


def container_parents(shapes, normal, config):
    """(K,) int: for each cluster the index of the nearer cluster it is the inside of, or itself.

    shapes: the clusters' ClusterShape; normal (3,): the support plane's normal. The cheap tests go first:
    heights, depths, then the bounding-box gap (with EPS of slack for rounding), before the footprint
    percentiles and the k-d tree.
    """
    axes = plane_axes(normal)
    parents = np.arange(len(shapes))
    for b, back in enumerate(shapes):
        if back.heights[0] <= config.interior_min_bottom_m:
            continue
        best_gap = config.interior_merge_gap_m
        for a, front in enumerate(shapes):
            if (a == b or front.heights[2] <= back.heights[1] or front.mean[2] >= back.mean[2]
                    or box_gap(front, back) > best_gap + EPS
                    or not _inside_behind(front, back, normal, axes, config.interior_margin_m)):
                continue
            gap, _ = cKDTree(front.sample).query(back.sample, distance_upper_bound=best_gap)
            if np.isfinite(gap).any():
                best_gap, parents[b] = float(gap.min()), a
    return parents


def root_groups(parents):
    """Groups (list of index arrays) of the forest given by `parents` (K,) (a root is its own parent)."""
    roots = parents.copy()
    while True:
        followed = roots[roots]
        if np.array_equal(followed, roots):
            break
        roots = followed
    return [np.flatnonzero(roots == r) for r in np.unique(roots)]
