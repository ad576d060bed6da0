"""Segmentation quality and speed on the real YCB-Video dev frames, beside Open3D as a peer.

    python -m vn_perception.tools.bench_segmentation [--data ../shared/data] [--frames 60] [--no-open3d]

Per frame: depth x depth_scale_m -> metres, back-projected with K to an organized (480, 640, 3) cloud
(0 -> NaN). Quality: an object is recalled when a cluster has IoU >= 0.5 with its ground-truth mask
(restricted to pixels with a depth reading, since only those carry points); objects count for recall when
at least 50 % visible. Visibility = pixels of the ground-truth label mask with a depth reading / pixels of
the object's unoccluded silhouette, ray cast from the catalog mesh at the ground-truth pose (so both
occlusion and missing depth lower it). Precision = clusters with IoU >= 0.5 against any labelled object /
all clusters. Speed: segmentation seconds per frame (median, p95), single process.

Are these definitions fair? IoU is taken on pixels with a depth reading on both sides (a cluster cannot
hold a pixel without one), so missing depth neither helps nor hurts. The ground-truth mask includes each
object's bottom min_height_m (1 cm) that every plane-removal method drops: that costs IoU on thin objects
(the YCB large marker lying flat is half below it: the remaining misses) but applies to the peer too.
Visibility counts missing depth as not visible, so an object the sensor barely sees is not evaluated.
Precision is a lower bound: a cluster on a real but unannotated object (video 0000 has a few) counts as false.

Peer: Open3D (voxel_down_sample + segment_plane + cluster_dbscan with the same voxel, plane distance,
hypotheses, height band, tolerance and cluster filters), labels mapped back to the full-resolution
points through the voxel of each point. Only Open3D's own calls are timed (not the mapping nor the
height band), so the speed ratio is conservative. Open3D is a benchmark-only dependency.
"""
import argparse
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vn_perception.perception.metrics import MatchCounts, match_counts
from vn_perception.perception.segmentation import SegmentationConfig, filter_cluster, segment_objects

#: relative path of the real dev frames inside the shared data folder
REAL_DEV_FILE = Path("real_dev") / "ycbv_real_dev.npz"
#: ground-truth objects count for recall when at least this fraction is visible
MIN_VISIBILITY = 0.5
#: a cluster matches an object at this IoU or above
IOU_THRESHOLD = 0.5
#: the shared data folder seen from the repository root
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass
class RealFrame:
    """One real frame: organized `points` (H, W, 3) float32 metres (NaN = no depth), ground-truth
    `instance` (H, W) int (0 = background, 1..G = objects with a depth reading), per-object `visibility`
    (G,) and `names` (G,)."""
    name: str
    points: np.ndarray
    instance: np.ndarray
    visibility: np.ndarray
    names: list


def load_real_frames(data_dir=DEFAULT_DATA_DIR, frames=None):
    """The YCB-Video real dev frames as RealFrame list (`frames`: indices to load; None = all).

    Raises FileNotFoundError when the data file is absent.
    """
    import trimesh

    from vn_perception.data.ycbv_frames import read_ycbv_frames, visibility

    data_dir = Path(data_dir)
    meshes = {}
    out = []
    for frame in read_ycbv_frames(data_dir / REAL_DEV_FILE, frames):
        instance = np.zeros(frame.depth.shape, dtype=np.int64)
        seen, names = [], []
        for obj in frame.objects:
            if obj.name not in meshes:
                meshes[obj.name] = trimesh.load(data_dir / "catalog" / "meshes" / "ycbv" / f"{obj.name}.ply",
                                                force="mesh")
            names.append(obj.name)
            instance[obj.mask] = len(names)
            seen.append(visibility(obj, frame.camera, meshes[obj.name]))
        out.append(RealFrame(frame.name, frame.points, instance, np.array(seen), names))
    return out


def evaluate(segment, frames):
    """Run `segment(points) -> (list of flat index arrays, seconds)` on each frame.

    Returns (MatchCounts over all frames, list of seconds per frame).
    """
    counts, seconds = MatchCounts(), []
    for frame in frames:
        clusters, elapsed = segment(frame.points)
        seconds.append(elapsed)
        counts = counts + match_counts(clusters, frame.instance, frame.visibility >= MIN_VISIBILITY, IOU_THRESHOLD)
    return counts, seconds


def ours(config, organized=True):
    """Our segmentation as an `evaluate` callable (organized, or the same cloud flattened to (N, 3))."""
    def run(points):
        flat_points = points if organized else points.reshape(-1, 3)
        result = segment_objects(flat_points, config)
        return [c.indices for c in result.clusters], result.timings["total"]
    return run


def open3d_peer(config, dbscan_min_points=10):
    """Open3D voxel_down_sample + segment_plane + cluster_dbscan as an `evaluate` callable."""
    import open3d as o3d

    from vn_perception.perception.voxel import voxel_downsample

    def run(points):
        flat = points.reshape(-1, 3)
        valid = np.flatnonzero(np.isfinite(flat).all(axis=1) & (flat[:, 2] >= config.min_depth_m)
                               & (flat[:, 2] <= config.max_depth_m))
        cloud = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(flat[valid].astype(np.float64)))
        start = time.perf_counter()
        down = cloud.voxel_down_sample(config.voxel_size_m)
        model, _ = down.segment_plane(config.plane_distance_m, 3, config.plane_hypotheses)
        elapsed = time.perf_counter() - start
        normal, offset = np.asarray(model[:3]), float(model[3])
        if offset < 0:                                      # normal towards the camera at the origin
            normal, offset = -normal, -offset
        down_points = np.asarray(down.points)
        height = down_points @ normal + offset
        above = np.flatnonzero((height > config.min_height_m) & (height < config.max_height_m))
        objects = down.select_by_index(above.tolist())
        start = time.perf_counter()
        labels = np.asarray(objects.cluster_dbscan(config.cluster_tolerance_m, dbscan_min_points))
        elapsed += time.perf_counter() - start
        # map back: each full-resolution point takes the label of its voxel's centroid (same grid)
        grid = voxel_downsample(flat[valid], config.voxel_size_m)
        from scipy.spatial import cKDTree
        _, nearest = cKDTree(down_points[above]).query(grid.centroids, distance_upper_bound=config.voxel_size_m)
        voxel_label = np.full(len(grid.centroids), -1)
        found = nearest < len(above)
        voxel_label[found] = labels[nearest[found]]
        point_label = voxel_label[grid.point_voxel]
        point_height = flat[valid] @ normal + offset
        point_label[(point_height <= config.min_height_m) | (point_height >= config.max_height_m)] = -1
        clusters = []
        for k in range(int(labels.max()) + 1 if len(labels) else 0):
            cluster = filter_cluster(valid[point_label == k], flat, config)
            if cluster is not None:
                clusters.append(cluster.indices)
        return clusters, elapsed
    return run


def _summary(name, counts, seconds):
    ms = np.array(seconds) * 1e3
    return (f"{name:<28} recall {counts.recall:.3f} ({counts.recalled}/{counts.objects})  precision "
            f"{counts.precision:.3f} ({counts.correct}/{counts.clusters})  time median {np.median(ms):.1f} ms  "
            f"p95 {np.percentile(ms, 95):.1f} ms")


def add_arguments(parser):
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA_DIR, help="shared data folder")
    parser.add_argument("--frames", type=int, default=None, help="use the first N frames (default: all)")
    parser.add_argument("--config", type=Path, default=None, help="pipeline YAML (default: packaged)")
    parser.add_argument("--no-open3d", action="store_true", help="skip the Open3D peer")
    parser.add_argument("--repeat", type=int, default=3, help="timing repeats per frame (the median is kept)")


def run(args):
    from vn_perception.pipeline import load_pipeline_config
    config = SegmentationConfig.from_dict(load_pipeline_config(args.config).get("segmentation"))
    frames = load_real_frames(args.data, None if args.frames is None else range(args.frames))
    visible = np.concatenate([f.visibility for f in frames])
    print(f"{len(frames)} frames, {len(visible)} objects, {int((visible >= MIN_VISIBILITY).sum())} "
          f">= {MIN_VISIBILITY:.0%} visible")

    def timed(segment):
        def repeated(points):
            runs = [segment(points) for _ in range(max(args.repeat, 1))]
            return runs[0][0], statistics.median(r[1] for r in runs)
        return repeated

    results = {}
    for name, segment in (("ours (organized)", ours(config, True)), ("ours (unorganized)", ours(config, False))):
        results[name] = evaluate(timed(segment), frames)
        print(_summary(name, *results[name]))
    if args.no_open3d:
        return 0
    try:
        peer = open3d_peer(config)
    except ImportError as e:
        print(f"Open3D peer skipped: open3d is not importable ({e}); `pip install open3d` to compare")
        return 0
    results["open3d"] = evaluate(timed(peer), frames)
    print(_summary("open3d (voxel+plane+dbscan)", *results["open3d"]))
    peer_ms = np.median(results["open3d"][1])
    for name in ("ours (organized)", "ours (unorganized)"):
        print(f"speed ratio open3d / {name}: {peer_ms / np.median(results[name][1]):.1f}x  "
              f"(recall {results[name][0].recall:.3f} vs {results['open3d'][0].recall:.3f})")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
