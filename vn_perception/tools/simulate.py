"""`vn-perception simulate`: tabletop scenes seen by a virtual depth camera, written to a rosbag2.

    vn-perception simulate --out sim_bag [--scenes 3] [--frames-per-scene 5] [--objects-per-scene 3 6]
                           [--seed 0] [--camera d435|kinect] [--storage mcap|sqlite3] [--catalog DIR]

Topics (all stamped alike, one frame period 1/fps apart): organized 640x480 `sensor_msgs/PointCloud2` (x, y, z
float32, NaN = no return) in `camera_depth_optical_frame` on /camera/depth/points; the ground truth as
`vision_msgs/Detection3DArray` on /ground_truth/detections (class_id, score 1, object -> camera pose in
results[0].pose.pose and bbox.center, bbox.size = mesh extents, id = "sceneS/objectK:name"); /clock.
Objects hidden (fewer than --min-visible-pixels returns) are left out of that frame's ground truth.
Metadata version 8 (readable by Humble and newer). The same arguments give the same bag.
"""
import sys
from pathlib import Path

from tqdm import tqdm

from vn_perception.bag import (CAMERA_FRAME, CLOCK_TOPIC, CLOUD_TOPIC, GT_TOPIC, STORAGES, BagWriter, cloud_message,
                               clock_message, detection_array_message)
from vn_perception.data.camera import DepthNoise, PinholeCamera
from vn_perception.data.catalog import load_catalog
from vn_perception.data.paths import shared_catalog_dir
from vn_perception.data.ycbv import YCBV_SOURCE
from vn_perception.sim import ObjectModel, SimulationConfig, ViewSampling, simulate

CAMERAS = {"d435": PinholeCamera.d435, "kinect": PinholeCamera.kinect}


def add_arguments(parser):
    defaults = SimulationConfig()
    parser.add_argument("--out", type=Path, required=True, help="bag folder to create (must not exist)")
    parser.add_argument("--scenes", type=int, default=defaults.scenes)
    parser.add_argument("--frames-per-scene", type=int, default=defaults.frames_per_scene)
    parser.add_argument("--objects-per-scene", type=int, nargs=2, metavar=("MIN", "MAX"),
                        default=defaults.objects_per_scene, help="inclusive range of objects per scene")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--camera", choices=sorted(CAMERAS), default="d435", help="depth-camera intrinsics")
    parser.add_argument("--storage", choices=sorted(STORAGES), default="mcap")
    parser.add_argument("--fps", type=float, default=defaults.fps, help="frame rate of the bag (Hz)")
    parser.add_argument("--arc-deg", type=float, default=defaults.view.arc_deg,
                        help="azimuth swept by the camera over a scene's frames (0 = static camera)")
    parser.add_argument("--min-visible-pixels", type=int, default=defaults.min_visible_pixels,
                        help="objects with fewer depth returns are not in the frame's ground truth")
    parser.add_argument("--no-noise", action="store_true", help="perfect depth (no sensor noise or dropout)")
    parser.add_argument("--catalog", type=Path, default=shared_catalog_dir(),
                        help="the shared catalog (its ycbv objects) or a folder of meshes (see data.catalog)")
    parser.add_argument("--source", default=YCBV_SOURCE, help="source filter when --catalog is the shared catalog")


def config_from_args(args):
    """The SimulationConfig the arguments ask for."""
    low, high = args.objects_per_scene
    if not 1 <= low <= high:
        raise ValueError(f"--objects-per-scene needs 1 <= MIN <= MAX, got {low} {high}")
    return SimulationConfig(scenes=args.scenes, frames_per_scene=args.frames_per_scene, objects_per_scene=(low, high),
                            camera=CAMERAS[args.camera](), noise=DepthNoise.none() if args.no_noise else DepthNoise(),
                            fps=args.fps, min_visible_pixels=args.min_visible_pixels,
                            view=ViewSampling(arc_deg=args.arc_deg), seed=args.seed)


def load_models(catalog_dir, source=YCBV_SOURCE):
    """ObjectModels of a catalog folder (the shared catalog filtered by `source`, or a user mesh folder)."""
    is_shared = (Path(catalog_dir) / "catalog.csv").is_file()
    catalog = load_catalog(catalog_dir, source=source if is_shared else None)
    return [ObjectModel.from_catalog_entry(e) for e in catalog.entries]


def write_bag(out, frames, storage="mcap", total=None):
    """Write `sim.SimulatedFrame`s to a new bag `out`; returns (frames, ground-truth objects) written."""
    n_frames = n_objects = 0
    with BagWriter(out, storage=storage) as bag:
        for frame in tqdm(frames, total=total, desc="simulate", unit="frame"):
            ts, stamp = bag.typestore, frame.stamp_ns
            bag.write(CLOCK_TOPIC, clock_message(ts, stamp), stamp)
            bag.write(CLOUD_TOPIC, cloud_message(ts, frame.points, CAMERA_FRAME, stamp), stamp)
            bag.write(GT_TOPIC, detection_array_message(ts, frame.ground_truth, CAMERA_FRAME, stamp), stamp)
            n_frames, n_objects = n_frames + 1, n_objects + len(frame.ground_truth)
    return n_frames, n_objects


def run(args):
    if args.out.exists():
        print(f"vn-perception simulate: {args.out} exists; rosbag2 writes a new folder", file=sys.stderr)
        return 2
    config = config_from_args(args)
    models = load_models(args.catalog, args.source)
    n_frames, n_objects = write_bag(args.out, simulate(models, config), args.storage,
                                    total=config.scenes * config.frames_per_scene)
    print(f"wrote {args.out}: {n_frames} frames, {n_objects} ground-truth objects "
          f"({len(models)} catalog objects, seed {config.seed}, {args.storage})")
    return 0
