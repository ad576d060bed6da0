"""Objects on a support surface: crop, support-plane removal, clustering, cluster filters.

    result = segment_objects(points, SegmentationConfig())   # points (H, W, 3) or (N, 3), metres, NaN = missing
    result.plane          # Plane (normal towards the camera, offset) or None when no support plane was found
    result.clusters       # list[Cluster]: indices into the flattened input, points (n, 3) float32
    result.timings        # seconds per stage: crop, plane, cluster, filter, total (cpu_timings: CPU)

Stages (points in the sensor frame, camera at the origin):
  1. crop: finite points with depth (z) in [min_depth_m, max_depth_m] and inside the optional box;
  2. plane: vectorised RANSAC on a random subsample, SVD refit; normal turned towards the camera;
  3. objects: points between min_height_m and max_height_m above the plane (all cropped points when no
     plane holds plane_min_inlier_fraction of them);
  4. clusters: organized clouds (H, W, 3) -> connected components of the image grid, neighbours split at
     depth jumps > depth_jump_ratio x depth and at concave creases; unorganized (N, 3) -> voxel-grid
     downsampling then Euclidean components of the voxel centroids (cluster_tolerance_m);
  5. filters: statistical outlier removal per cluster (on its voxel centroids), then cluster size
     (points) and extent limits; organized clouds: a container's inside rejoins its outside
     (merging.py); the cluster top's clearance over the (distorted) table; support.
"""
import dataclasses
from dataclasses import dataclass, field
from typing import Optional

import numpy as np

from vn_perception.perception.clustering import euclidean_components, organized_components, statistical_inliers
from vn_perception.perception.merging import ClusterShape, container_parents, root_groups
from vn_perception.perception.plane import Plane, SupportPolygon, plane_axes, ransac_plane
from vn_perception.perception.timing import StageClock
from vn_perception.perception.voxel import voxel_downsample

__all__ = ["SegmentationConfig", "Cluster", "SegmentationResult", "segment_objects", "as_point_array"]

_CAMERA_ORIGIN = np.zeros(3)


@dataclass
class SegmentationConfig:
    """Every threshold of `segment_objects`; defaults tuned on the YCB-Video real dev frames
    (Asus Xtion, 0.5-1.6 m; see assets/pipeline.yaml for the tuning figures)."""

    #: crop: nearest and farthest depth (z, metres) kept; RealSense/Kinect-class sensors are unreliable
    #: outside roughly this band for tabletop work
    min_depth_m: float = 0.2
    max_depth_m: float = 2.0
    #: crop: optional axis-aligned box in the sensor frame, (x, y, z) corners in metres (None = no box)
    crop_box_min_m: Optional[tuple] = None
    crop_box_max_m: Optional[tuple] = None
    #: edge of the voxels used for unorganized clustering and for per-cluster outlier statistics (metres)
    voxel_size_m: float = 0.005
    #: plane: a point is on the support plane when closer than this (metres): sensor noise + table flatness
    plane_distance_m: float = 0.01
    #: plane: RANSAC hypotheses, all scored at once
    plane_hypotheses: int = 200
    #: plane: random points the hypotheses are scored on (cost ~ hypotheses x sample points)
    plane_sample_points: int = 3000
    #: plane: SVD refits on the inliers after RANSAC
    plane_refit_iterations: int = 2
    #: plane: below this inlier fraction of the cropped points there is no support plane
    plane_min_inlier_fraction: float = 0.1
    #: objects: height band above the plane (metres); the lower bound skips table noise, the upper walls
    min_height_m: float = 0.01
    max_height_m: float = 0.6
    #: organized clustering: pixels are pooled into square cells of this many pixels a side (noise
    #: averaging for normals, and speed); 1 works on single pixels
    cell_size_px: int = 4
    #: organized clustering: neighbour cells split where depths differ by more than this fraction of the
    #: depth (an occlusion edge: 0.01 = 1 cm at 1 m)
    depth_jump_ratio: float = 0.01
    #: organized clustering: cells on a concave crease (where two objects touch) separate the components:
    #: a cell is on one when, for the cells concavity_reach_cells away on either side along a grid axis or
    #: diagonal, (n_a - n_b) . (p_a - p_b) / |p_a - p_b| < -concavity_cut, i.e. the normals turn inwards by
    #: more than about 2 asin(concavity_cut / 2) (0.3 -> 17 degrees) over that span; 0 = depth jumps only
    concavity_cut: float = 0.3
    #: organized clustering: the crease test compares the cells this many cells away on either side
    concavity_reach_cells: int = 1
    #: organized clustering: cell normals average the tangents over a (2 k + 1)^2 cell window (noise)
    normal_smoothing_cells: int = 1
    #: unorganized clustering: voxel centroids closer than this (metres) are connected
    cluster_tolerance_m: float = 0.012
    #: keep only clusters whose centroid projects inside the convex hull of the support plane's inliers
    #: (the table top), as in PCL's polygonal prism extraction; drops walls and objects beyond the table
    require_support: bool = True
    #: a cluster's top (its merging.TOP_PERCENTILE height above the plane) must clear min_height_m plus
    #: table_lift_per_m2 x depth^2 (metres per square metre of its mean depth): depth sensors' systematic
    #: distortion bends a far table up by roughly this (measured on the Xtion dev frames: patches lifted up to
    #: 1.8 cm at 1.4 m, i.e. ~0.009 / m), and such patches otherwise pass as flat objects; 0 disables
    table_lift_per_m2: float = 0.01
    #: organized clouds: a container's inside, split from its outside by the rim's depth jump, rejoins it
    #: (perception/merging.py) when within this 3-D gap (metres; the sensor drops pixels along the rim:
    #: gaps up to 2.8 cm measured on a mug at 0.6 m); 0 disables
    interior_merge_gap_m: float = 0.03
    #: ... only a fragment whose bottom is higher than this above the plane (it does not stand on the table)
    interior_min_bottom_m: float = 0.02
    #: ... lying within the nearer cluster's footprint (extended away from the camera by its width) give or
    #: take this margin (metres)
    interior_margin_m: float = 0.01
    #: cluster size limits, in input points (after outlier removal)
    min_cluster_points: int = 300
    max_cluster_points: int = 250_000
    #: cluster extent limits (largest axis-aligned side, metres)
    min_extent_m: float = 0.02
    max_extent_m: float = 0.6
    #: statistical outlier removal: neighbours per voxel centroid and the std ratio (0 disables)
    outlier_neighbors: int = 8
    outlier_std_ratio: float = 0.0
    #: seed of the RANSAC sampling (results are deterministic per input)
    random_seed: int = 0

    def __post_init__(self):
        positive = ("max_depth_m", "voxel_size_m", "plane_distance_m", "plane_hypotheses", "plane_sample_points",
                    "max_height_m", "cell_size_px", "depth_jump_ratio", "concavity_reach_cells", "cluster_tolerance_m", "max_cluster_points",
                    "max_extent_m", "outlier_neighbors")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ValueError(f"SegmentationConfig.{name} must be > 0, got {getattr(self, name)!r}")
        non_negative = ("min_depth_m", "plane_refit_iterations", "plane_min_inlier_fraction", "min_cluster_points",
                        "min_extent_m", "outlier_std_ratio", "concavity_cut", "normal_smoothing_cells",
                        "table_lift_per_m2",
                        "interior_merge_gap_m", "interior_min_bottom_m", "interior_margin_m")
        for name in non_negative:
            if not getattr(self, name) >= 0:
                raise ValueError(f"SegmentationConfig.{name} must be >= 0, got {getattr(self, name)!r}")
        for low, high in (("min_depth_m", "max_depth_m"), ("min_height_m", "max_height_m"),
                          ("min_cluster_points", "max_cluster_points"), ("min_extent_m", "max_extent_m")):
            if getattr(self, low) >= getattr(self, high):
                raise ValueError(f"SegmentationConfig.{low} must be < {high}")
        if (self.crop_box_min_m is None) != (self.crop_box_max_m is None):
            raise ValueError("SegmentationConfig.crop_box_min_m and crop_box_max_m go together")
        if self.crop_box_min_m is not None:
            self.crop_box_min_m = tuple(float(v) for v in self.crop_box_min_m)
            self.crop_box_max_m = tuple(float(v) for v in self.crop_box_max_m)
            if len(self.crop_box_min_m) != 3 or len(self.crop_box_max_m) != 3:
                raise ValueError("SegmentationConfig.crop_box_min_m / crop_box_max_m must be (x, y, z)")

    @classmethod
    def from_dict(cls, values):
        """Config from a mapping of field names (None or {} gives the defaults); unknown keys are an error."""
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown segmentation setting(s) {unknown}; known: {sorted(known)}")
        return cls(**values)

    def to_dict(self):
        return dataclasses.asdict(self)


@dataclass
class Cluster:
    """One segmented object: `indices` (n,) int64 into the flattened input, its `points` (n, 3) float32."""
    indices: np.ndarray
    points: np.ndarray

    def __len__(self):
        return len(self.indices)


@dataclass
class SegmentationResult:
    """Support `plane` (or None), `clusters` (largest first), `timings` (wall seconds per stage) and
    `cpu_timings` (CPU seconds per stage, perception.timing).

    Iterating over a result iterates over its clusters.
    """
    plane: Optional[Plane]
    clusters: list
    timings: dict = field(default_factory=dict)
    cpu_timings: dict = field(default_factory=dict)

    def __iter__(self):
        return iter(self.clusters)

    def __len__(self):
        return len(self.clusters)

    def __getitem__(self, item):
        return self.clusters[item]


def as_point_array(points):
    """Validate an (H, W, 3) or (N, 3) real array (NaN = missing point) and return it as float32.

    Raises ValueError for another shape, a non-real dtype or infinite values.
    """
    array = np.asarray(points)
    if array.ndim not in (2, 3) or array.shape[-1] != 3:
        raise ValueError(f"points must be an (H, W, 3) or (N, 3) array, got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
        raise ValueError(f"points must be a real-valued array, got dtype {array.dtype}")
    if np.isinf(array).any():
        raise ValueError("points contain infinite values; mark missing points with NaN")
    with np.errstate(over="ignore"):
        array = array.astype(np.float32, copy=False)
    if np.isinf(array).any():                 # finite float64 values beyond the float32 range (3.4e38)
        raise ValueError("points contain coordinates beyond the float32 range (|x| > 3.4e38 m)")
    return array


def _crop_mask(flat, config):
    """(M,) bool: finite points of (M, 3) `flat` with depth in the band and inside the optional box."""
    depth = flat[:, 2]
    with np.errstate(invalid="ignore"):
        keep = (depth >= config.min_depth_m) & (depth <= config.max_depth_m)  # False for NaN
        if config.crop_box_min_m is not None:
            keep &= np.all((flat >= config.crop_box_min_m) & (flat <= config.crop_box_max_m), axis=1)
    keep &= np.isfinite(flat[:, 0]) & np.isfinite(flat[:, 1])
    return keep


def _sample(keep, size, rng):
    """Up to `size` random indices (with repetition) of the True entries of (M,) `keep` (>= 1 True)."""
    draws = rng.integers(0, len(keep), size=4 * size)
    hits = draws[keep[draws]]
    if len(hits) >= size:
        return hits[:size]
    kept = np.flatnonzero(keep)                                   # sparse crop: draw among the kept points
    return kept[rng.integers(0, len(kept), size=min(size, len(kept)))]


def _support_plane(sample, config, rng):
    """The support plane of (S, 3) sample points (normal towards the camera) and the SupportPolygon of
    its inliers (None when not asked for or degenerate), or (None, None) when there is no plane."""
    plane = ransac_plane(sample, config.plane_distance_m, config.plane_hypotheses, rng,
                         config.plane_refit_iterations)
    if plane is None or plane.inlier_fraction < config.plane_min_inlier_fraction:
        return None, None
    polygon = None
    if config.require_support:
        polygon = SupportPolygon.from_points(
            plane, sample[np.abs(plane.signed_distance(sample)) < config.plane_distance_m])
    return plane.facing(_CAMERA_ORIGIN), polygon


def _size_limited_runs(indices, labels, count, config):
    """The labelled points of the clusters within the size limits, grouped.

    indices (M,) into the flattened input, labels (M,) in [0, count). Returns (members (K,) the indices
    sorted by cluster, in label order and in input order within a cluster; starts (C,) where each of the C
    clusters' run begins). The labels are narrowed to 16 bits when they fit: numpy's stable sort is then a
    radix sort (7x faster than on int64 for a frame's ~10^5 points).
    """
    sizes = np.bincount(labels, minlength=count)
    kept = (sizes >= config.min_cluster_points) & (sizes <= config.max_cluster_points)
    in_kept = kept[labels]
    runs = (np.cumsum(kept) - 1)[labels[in_kept]]
    if kept.sum() <= np.iinfo(np.uint16).max + 1:
        runs = runs.astype(np.uint16)
    starts = np.cumsum(sizes[kept]) - sizes[kept]
    return indices[in_kept][np.argsort(runs, kind="stable")], starts


def _filtered_clusters(members, starts, flat, config):
    """Clusters of the runs of `members` (K,) into (N, 3) `flat` beginning at `starts` (C,), after outlier
    removal and the size and extent limits (filter_cluster), in run order.

    Without outlier removal: one gather for all runs, extents by reduceat, and the clusters' arrays are
    slices of the gathered ones (no per-cluster copies); the same clusters as filter_cluster gives.
    """
    if len(starts) == 0:
        return []
    if config.outlier_std_ratio > 0:
        return [c for c in (filter_cluster(g, flat, config) for g in np.split(members, starts[1:])) if c is not None]
    points = flat.take(members, axis=0)
    extents = (np.maximum.reduceat(points, starts) - np.minimum.reduceat(points, starts)).max(axis=1)
    extents = extents.astype(np.float64)                        # compared in float64, as filter_cluster does
    passing = (extents >= config.min_extent_m) & (extents <= config.max_extent_m)
    ends = np.append(starts[1:], len(members))
    return [Cluster(members[a:b], points[a:b]) for a, b, ok in zip(starts, ends, passing) if ok]


def filter_cluster(indices, flat, config):
    """Cluster of `indices` into (M, 3) `flat` after outlier removal and size/extent limits, or None."""
    if len(indices) < config.min_cluster_points or len(indices) > config.max_cluster_points:
        return None
    points = flat[indices]
    if config.outlier_std_ratio > 0:
        grid = voxel_downsample(points, config.voxel_size_m)
        inlier_voxels = statistical_inliers(grid.centroids, config.outlier_neighbors, config.outlier_std_ratio)
        keep = inlier_voxels[grid.point_voxel]
        indices, points = indices[keep], points[keep]
        if len(indices) < config.min_cluster_points:
            return None
    extent = float((points.max(axis=0) - points.min(axis=0)).max())
    if not config.min_extent_m <= extent <= config.max_extent_m:
        return None
    return Cluster(indices.astype(np.int64), points)


def _clears_table(cluster, shape, config):
    """Whether `cluster`'s top (`shape.heights[2]`) rises above the table's distortion band at its depth."""
    depth = float(shape.mean[2])
    return shape.heights[2] >= config.min_height_m + config.table_lift_per_m2 * depth * depth


def _plane_filters(clusters, height, plane, organized, config):
    """Container insides joined to their outsides (organized clouds), then the table-clearance filter.

    height: (M,) heights of the flattened input above `plane`. Returns the kept clusters.
    """
    if not clusters or (config.table_lift_per_m2 == 0 and config.interior_merge_gap_m == 0):
        return clusters
    axes = plane_axes(plane.normal)
    shapes = [ClusterShape.of(c, height, axes) for c in clusters]
    if organized and config.interior_merge_gap_m > 0 and len(clusters) > 1:
        groups = root_groups(container_parents(shapes, plane.normal, config))
        merged = [Cluster(np.concatenate([clusters[k].indices for k in g]),
                          np.concatenate([clusters[k].points for k in g])) if len(g) > 1 else clusters[g[0]]
                  for g in groups]
        shapes = [ClusterShape.of(c, height, axes) if len(g) > 1 else shapes[g[0]]
                  for c, g in zip(merged, groups)]
        clusters = merged
    if config.table_lift_per_m2 > 0:
        clusters = [c for c, shape in zip(clusters, shapes) if _clears_table(c, shape, config)]
    return clusters


def _label_points(points, flat, candidates, config):
    """Cluster labels of the candidate points: (indices (K,) into flat, labels (K,) in [0, count), count)."""
    if points.ndim == 3:
        labels, count = organized_components(points, candidates.reshape(points.shape[:2]), config.cell_size_px,
                                             config.depth_jump_ratio, config.concavity_cut,
                                             config.concavity_reach_cells, config.normal_smoothing_cells)
        labels = labels.reshape(-1)
        indices = np.flatnonzero(labels)
        return indices, labels[indices].astype(np.int64) - 1, count
    indices = np.flatnonzero(candidates)
    grid = voxel_downsample(flat[indices], config.voxel_size_m)
    voxel_labels, count = euclidean_components(grid.centroids, config.cluster_tolerance_m)
    return indices, voxel_labels[grid.point_voxel], count


def segment_objects(points, config: Optional[SegmentationConfig] = None):
    """Segment the objects standing on the dominant plane of an organized or unorganized cloud.

    points: (H, W, 3) organized or (N, 3) unorganized, sensor frame, metres, NaN = missing.
    Returns a SegmentationResult; cluster indices address `points.reshape(-1, 3)`. Raises ValueError for
    a wrong shape or infinite values.
    """
    config = config or SegmentationConfig()
    points = as_point_array(points)
    flat = points.reshape(-1, 3)
    clock = StageClock()
    rng = np.random.default_rng(config.random_seed)

    keep = _crop_mask(flat, config)
    clock.lap("crop")
    if np.count_nonzero(keep) < 3:
        for stage in ("plane", "cluster", "filter"):
            clock.lap(stage)
        clock.total()
        return SegmentationResult(None, [], clock.timings, clock.cpu_timings)

    plane, support = _support_plane(flat[_sample(keep, config.plane_sample_points, rng)], config, rng)
    candidates = keep
    if plane is not None:
        with np.errstate(invalid="ignore"):
            height = plane.signed_distance(flat)
            candidates = keep & (height > config.min_height_m) & (height < config.max_height_m)
    clock.lap("plane")

    indices, labels, count = _label_points(points, flat, candidates, config)
    members, starts = _size_limited_runs(indices, labels, count, config)
    clock.lap("cluster")

    clusters = _filtered_clusters(members, starts, flat, config)
    if plane is not None:
        clusters = _plane_filters(clusters, height, plane, points.ndim == 3, config)
    if support is not None and clusters:
        centroids = np.stack([c.points.mean(axis=0) for c in clusters])
        clusters = [c for c, inside in zip(clusters, support.contains(centroids)) if inside]
    clusters.sort(key=len, reverse=True)
    clock.lap("filter")
    clock.total()
    return SegmentationResult(plane, clusters, clock.timings, clock.cpu_timings)
