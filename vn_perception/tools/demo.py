"""`vn-perception demo`: replay a tabletop scene through the real node; print, plot and score its detections.

    make demo                                   # set-up, then this, confined (scripts/ros-confined-or-plain)
    vn-perception demo [--out demo_output] [--rate 1.0] [--device auto]

Steps (each shows progress):
1. the packaged scene (`assets/demo_scene.npz`: depth images of a simulated YCB-Video tabletop, the camera
   intrinsics and the ground truth) is written as a standard rosbag2 (`<out>/demo_bag`, mcap, metadata v8: organized
   PointCloud2 on /camera/depth/points, vision_msgs ground truth on /ground_truth/detections, /clock);
2. `vn_perception_node` starts as a subprocess (sim time) and the bag is played into it (`evaluation.live`);
3. the node's Detection3DArray answers are printed as a table (label, score, position, roll/pitch/yaw, size), drawn
   over the depth image (`<out>/detections.png`), and scored against the ground truth (`<out>/report/summary.md`).

The scene asset is the project's own output (`vn-perception demo --make-scene`, which needs the shared catalog):
rendered from the YCB-Video object models (CC BY 4.0, Calli et al., "The YCB object and model set").
"""
import sys
import time
from pathlib import Path

import numpy as np

from vn_perception.bag import (CAMERA_FRAME, CLOCK_TOPIC, CLOUD_TOPIC, DETECTIONS_TOPIC, GT_TOPIC, BagWriter,
                               ObjectPose, clock_message, cloud_message, detection_array_message)
from vn_perception.data.camera import PinholeCamera

ASSETS = Path(__file__).resolve().parents[1] / "assets"
DEMO_SCENE = ASSETS / "demo_scene.npz"
#: depth is stored as uint16 in these units (metres per count): 0.1 mm, up to 6.5 m
DEPTH_UNIT_M = 1e-4
#: the scene written by --make-scene: frames, objects and seed of `vn-perception simulate`
DEMO_FRAMES, DEMO_OBJECTS, DEMO_SEED, DEMO_FPS = 6, (5, 6), 11, 2.0


def add_arguments(parser):
    parser.add_argument("--out", type=Path, default=Path("demo_output"), help="output folder (bag, PNG, report)")
    parser.add_argument("--scene", type=Path, default=DEMO_SCENE, help="scene file (see --make-scene)")
    parser.add_argument("--model", default="", help="classifier checkpoint ('' = the shipped default)")
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--rate", type=float, default=1.0, help="playback speed (1 = as recorded)")
    parser.add_argument("--mesh-catalog", default="auto",
                        help="folder of the class meshes for pose refinement (the node's mesh_catalog); 'auto' = "
                             "the shared catalog when it is there, '' = off")
    parser.add_argument("--mesh-source", default="ycbv", help="catalog.csv source of the meshes (mesh_source)")
    parser.add_argument("--make-scene", action="store_true",
                        help="render the scene asset anew from the shared catalog (developers), then stop")


# ------------------------------------------------------------------------------------------- the scene asset
def make_scene(path=DEMO_SCENE):
    """Render the demo scene with the simulator and store it compactly (depth in DEPTH_UNIT_M, ground truth)."""
    from vn_perception.data.camera import DepthNoise
    from vn_perception.sim import SimulationConfig, ViewSampling, simulate
    from vn_perception.tools.simulate import load_models
    from vn_perception.data.paths import shared_catalog_dir

    camera = PinholeCamera.d435()
    config = SimulationConfig(scenes=1, frames_per_scene=DEMO_FRAMES, objects_per_scene=DEMO_OBJECTS, camera=camera,
                              noise=DepthNoise(), fps=DEMO_FPS, view=ViewSampling(), seed=DEMO_SEED)
    frames = list(simulate(load_models(shared_catalog_dir()), config))
    depth = np.stack([np.nan_to_num(f.points[..., 2], nan=0.0) for f in frames])
    truth = [(k, o) for k, f in enumerate(frames) for o in f.ground_truth]
    np.savez_compressed(
        path, depth=np.round(depth / DEPTH_UNIT_M).astype(np.uint16), depth_unit_m=DEPTH_UNIT_M, K=camera.K,
        stamps_ns=np.array([f.stamp_ns for f in frames], dtype=np.int64),
        gt_frame=np.array([k for k, _ in truth]), gt_label=np.array([o.label for _, o in truth]),
        gt_rotation=np.array([o.rotation for _, o in truth]), gt_position=np.array([o.position for _, o in truth]),
        gt_size=np.array([o.size for _, o in truth]), gt_id=np.array([o.id for _, o in truth]),
        attribution=np.array("Rendered by vn_perception (vn-perception demo --make-scene) from the YCB-Video object "
                             "models (YCB object and model set, CC BY 4.0)."))
    return path


def load_scene(path):
    """(camera, stamps_ns, clouds [F, H, W, 3], ground truth per frame (lists of ObjectPose))."""
    with np.load(path) as data:
        depth = data["depth"].astype(np.float32) * float(data["depth_unit_m"])
        camera = PinholeCamera.from_K(data["K"], width=depth.shape[2], height=depth.shape[1])
        truth = [[] for _ in range(len(depth))]
        for k, label, rotation, position, size, object_id in zip(data["gt_frame"], data["gt_label"],
                                                                data["gt_rotation"], data["gt_position"],
                                                                data["gt_size"], data["gt_id"]):
            truth[k].append(ObjectPose(str(label), rotation, position, size, 1.0, str(object_id)))
        clouds = np.stack([camera.back_project(d) for d in depth])
        return camera, [int(s) for s in data["stamps_ns"]], clouds, truth


def write_scene_bag(path, stamps_ns, clouds, truth):
    """The scene as a rosbag2 (mcap) with the topics of `vn-perception simulate`."""
    with BagWriter(path, storage="mcap") as bag:
        ts = bag.typestore
        for stamp, cloud, objects in zip(stamps_ns, clouds, truth):
            bag.write(CLOCK_TOPIC, clock_message(ts, stamp), stamp)
            bag.write(CLOUD_TOPIC, cloud_message(ts, cloud, CAMERA_FRAME, stamp), stamp)
            bag.write(GT_TOPIC, detection_array_message(ts, objects, CAMERA_FRAME, stamp), stamp)


# ------------------------------------------------------------------------------------------- output
def roll_pitch_yaw_deg(rotation):
    """Extrinsic x-y-z (roll, pitch, yaw) angles of a rotation matrix, degrees (REP 103 convention)."""
    from scipy.spatial.transform import Rotation
    return Rotation.from_matrix(rotation).as_euler("xyz", degrees=True)


def detection_table(objects):
    """A fixed-width text table of ObjectPoses (sensor frame)."""
    header = (f"{'label':<24}{'score':>6}  {'x':>7}{'y':>7}{'z':>7}  {'roll':>6}{'pitch':>6}{'yaw':>6}  "
              f"{'size (cm)':>16}")
    lines = [header, "-" * len(header)]
    for o in sorted(objects, key=lambda o: -o.score):
        r, p, y = roll_pitch_yaw_deg(o.rotation)
        sx, sy, sz = 100 * np.asarray(o.size)
        lines.append(f"{o.label:<24}{o.score:>6.2f}  {o.position[0]:>7.3f}{o.position[1]:>7.3f}{o.position[2]:>7.3f}  "
                     f"{r:>6.0f}{p:>6.0f}{y:>6.0f}  {sx:>5.1f}x{sy:>4.1f}x{sz:>4.1f}")
    return "\n".join(lines)


def box_corners(obj):
    """The 8 corners `[8, 3]` of an ObjectPose's oriented box in the sensor frame."""
    signs = np.array([[sx, sy, sz] for sx in (-1, 1) for sy in (-1, 1) for sz in (-1, 1)], dtype=float)
    return (signs * np.asarray(obj.size) / 2) @ np.asarray(obj.rotation).T + np.asarray(obj.position)


#: box edges as corner index pairs (corners ordered as in box_corners)
BOX_EDGES = [(0, 1), (0, 2), (1, 3), (2, 3), (4, 5), (4, 6), (5, 7), (6, 7), (0, 4), (1, 5), (2, 6), (3, 7)]


def plot_detections(path, camera, cloud, detections, truth, title):
    """PNG: the depth image with each detection's oriented box, axes and label; ground-truth centres as crosses."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(10, 7.5))
    ax.imshow(cloud[..., 2], cmap="Greys_r", vmin=np.nanpercentile(cloud[..., 2], 1),
              vmax=np.nanpercentile(cloud[..., 2], 99))
    colours = plt.get_cmap("tab20")
    labels = sorted({o.label for o in detections})
    for obj in detections:
        colour = colours(labels.index(obj.label) % 20)
        uv = camera.project(box_corners(obj))
        for a, b in BOX_EDGES:
            ax.plot(uv[[a, b], 0], uv[[a, b], 1], color=colour, linewidth=1.5)
        origin = camera.project(np.asarray(obj.position)[None])[0]
        axis_len = 0.5 * float(np.min(obj.size)) if np.min(obj.size) > 0 else 0.03
        for axis, axis_colour in zip(np.asarray(obj.rotation).T, ("r", "g", "b")):
            tip = camera.project((np.asarray(obj.position) + axis_len * axis)[None])[0]
            ax.plot([origin[0], tip[0]], [origin[1], tip[1]], color=axis_colour, linewidth=2)
        ax.text(uv[:, 0].min(), uv[:, 1].min() - 4, f"{obj.label} {obj.score:.2f}", color="white", fontsize=8,
                bbox=dict(facecolor=colour, alpha=0.8, pad=1, edgecolor="none"))
    for obj in truth:
        u, v = camera.project(np.asarray(obj.position)[None])[0]
        ax.plot(u, v, "x", color="yellow", markersize=8, markeredgewidth=2)
    ax.set_xlim(0, camera.width)
    ax.set_ylim(camera.height, 0)
    ax.set_title(title + "   (boxes: detections, x: ground-truth object origins)")
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# ------------------------------------------------------------------------------------------- run
def mesh_catalog(option):
    """The mesh catalog folder the demo passes to the node: `option`, or for 'auto' the shared catalog when it
    exists ('' = off)."""
    if option != "auto":
        return option
    from vn_perception.data.paths import shared_catalog_dir
    folder = shared_catalog_dir()
    return str(folder) if (folder / "catalog.csv").is_file() else ""


def run(args):
    from vn_perception.evaluation.live import LiveError, NodeProcess, confinement_problem, play_into_node
    from vn_perception.evaluation.metrics import Evaluation
    from vn_perception.evaluation.report import headline, write_report
    from vn_perception.models.checkpoint import load_checkpoint
    from vn_perception.classifier import DEFAULT_MODEL_PATH
    from tqdm import tqdm

    if args.make_scene:
        print(f"wrote {make_scene(args.scene)}")
        return 0
    if confinement_problem():
        print("vn-perception demo: note: not inside a private network namespace (scripts/ros-confined); ROS runs on "
              "this host with localhost-only discovery", file=sys.stderr)
    started = time.monotonic()
    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    print(f"[1/3] scene {args.scene.name} -> rosbag2 {out / 'demo_bag'}")
    camera, stamps, clouds, truth = load_scene(args.scene)
    bag = out / "demo_bag"
    if bag.exists():
        import shutil
        shutil.rmtree(bag)
    write_scene_bag(bag, stamps, clouds, truth)

    metadata = load_checkpoint(args.model or DEFAULT_MODEL_PATH).metadata
    print(f"[2/3] starting vn_perception_node (model: {args.model or 'shipped default'}, "
          f"{len(metadata['classes'])} classes) and replaying {len(stamps)} clouds")
    meshes = mesh_catalog(args.mesh_catalog)
    print("      pose refinement: " + (f"meshes of {meshes} (source {args.mesh_source})" if meshes else
                                       "off (no mesh catalog; --mesh-catalog PATH turns it on)"))
    extra = {"mesh_catalog": meshes, "mesh_source": args.mesh_source} if meshes else {}
    node = NodeProcess(out / "node.log", CLOUD_TOPIC, args.model, args.device, extra_parameters=extra)
    try:
        with tqdm(total=len(stamps), desc="replay", unit="cloud") as bar:
            result = play_into_node(bag, node, CLOUD_TOPIC, CLOCK_TOPIC, DETECTIONS_TOPIC, args.rate,
                                    progress=bar.update)
    except LiveError as e:
        print(f"vn-perception demo: {e}", file=sys.stderr)
        return 1
    finally:
        status = node.stop()
    print(f"      node answered {len(result.answers)}/{len(result.published)} clouds; exit status {status}")

    print("[3/3] detections, picture and evaluation")
    evaluation = Evaluation(dict(zip(metadata["classes"], metadata["symmetries"])))
    truth_by_stamp = dict(zip(stamps, truth))
    for stamp, answer in sorted(result.answers.items()):
        evaluation.add_frame(stamp, answer.predictions, truth_by_stamp.get(stamp), {"end_to_end": answer.latency_s})
    if not result.answers:
        print("vn-perception demo: the node gave no answer; see its log: " + str(out / "node.log"), file=sys.stderr)
        return 1
    last = max(result.answers)
    k = stamps.index(last)
    print(f"\nDetections in the last frame ({len(result.answers[last].predictions)} objects; sensor frame "
          f"{CAMERA_FRAME}, metres, degrees):\n")
    print(detection_table(result.answers[last].predictions))
    png = out / "detections.png"
    plot_detections(png, camera, clouds[k], result.answers[last].predictions, truth[k],
                    f"vn_perception demo, frame {k + 1}/{len(stamps)}")
    summary = evaluation.summary()
    write_report(out / "report", summary, "vn-perception demo (live node)",
                 {"scene": str(args.scene), "model": args.model or "shipped default", "device": args.device,
                  "pose refinement": meshes or "off"},
                 name="demo")
    print(f"\nEvaluation over {len(result.answers)} frames: {headline(summary)}")
    print(f"Picture: {png}\nReport:  {out / 'report' / 'summary.md'}\nBag:     {bag} "
          f"(replay it yourself: ros2 bag play {bag} --clock)")
    print(f"Done in {time.monotonic() - started:.0f} s.")
    return 0
