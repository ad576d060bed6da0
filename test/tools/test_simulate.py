"""`vn-perception simulate` writes a rosbag2 that rosbags reads back: v8 metadata, organized clouds, ground truth."""
import numpy as np
import pytest
import trimesh
import yaml
from rosbags.rosbag2 import Reader

from vn_perception.bag import CAMERA_FRAME, CLOCK_TOPIC, CLOUD_TOPIC, GT_TOPIC, read_frames, stamp_to_ns
from vn_perception.bag.typestore import project_typestore
from vn_perception.cli import main
from vn_perception.data.camera import PinholeCamera
from vn_perception.data.paths import shared_catalog_dir
from vn_perception.pointcloud import read_xyz
from vn_perception.sim import render_poses

SHARED_CATALOG = shared_catalog_dir()
TINY = ["--scenes", "1", "--frames-per-scene", "2", "--objects-per-scene", "3", "3", "--seed", "5"]
#: noisy cloud vs noise-free render of the ground truth (metres, ~3 sigma at 1 m)
DEPTH_TOLERANCE_M = 0.01


@pytest.fixture(scope="module")
def mesh_folder(tmp_path_factory):
    """A user catalog: three primitives, each its own class (named after the file)."""
    folder = tmp_path_factory.mktemp("meshes")
    trimesh.creation.box((0.12, 0.08, 0.05)).export(folder / "box.ply")
    trimesh.creation.cylinder(radius=0.035, height=0.12, sections=32).export(folder / "can.ply")
    trimesh.creation.cone(radius=0.04, height=0.09, sections=32).export(folder / "cone.ply")
    return folder


def check_ground_truth_explains_cloud(frame, meshes, camera):
    """The noisy cloud's depth agrees with a noise-free render of the ground truth where both have returns."""
    points = read_xyz(frame.cloud)
    truth = render_poses(frame.ground_truth, meshes, camera)
    covered = (truth.instance >= 0) & np.isfinite(points[..., 2])
    assert covered.sum() > 1000
    assert (np.abs(points[..., 2][covered] - truth.depth[covered]) < DEPTH_TOLERANCE_M).mean() > 0.97


@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_bag_from_a_user_catalog(tmp_path, mesh_folder, storage):
    out = tmp_path / "bag"
    assert main(["simulate", "--out", str(out), "--catalog", str(mesh_folder), "--storage", storage, *TINY]) == 0
    metadata = yaml.safe_load((out / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert metadata["version"] == 8 and metadata["storage_identifier"] == storage
    with Reader(out) as reader:
        assert {c.topic: c.msgtype for c in reader.connections} == {
            CLOCK_TOPIC: "rosgraph_msgs/msg/Clock", CLOUD_TOPIC: "sensor_msgs/msg/PointCloud2",
            GT_TOPIC: "vision_msgs/msg/Detection3DArray"}
        assert all(c.msgcount == 2 for c in reader.connections)
        ts = project_typestore()
        clocks = [stamp_to_ns(ts.deserialize_cdr(raw, c.msgtype).clock)
                  for c, _, raw in reader.messages([c for c in reader.connections if c.topic == CLOCK_TOPIC])]
    frames = list(read_frames(out, CLOUD_TOPIC, GT_TOPIC))
    assert [f.stamp_ns for f in frames] == clocks
    meshes = {p.stem: trimesh.load(p) for p in mesh_folder.glob("*.ply")}
    for frame in frames:
        assert frame.cloud.header.frame_id == CAMERA_FRAME
        assert (frame.cloud.height, frame.cloud.width) == (480, 640) and not frame.cloud.is_dense
        points = read_xyz(frame.cloud)
        assert points.shape == (480, 640, 3) and np.isnan(points).any()
        assert len(frame.ground_truth) == 3 and {o.label for o in frame.ground_truth} <= set(meshes)
        for obj in frame.ground_truth:
            np.testing.assert_allclose(obj.rotation.T @ obj.rotation, np.eye(3), atol=1e-6)
            np.testing.assert_allclose(obj.size, meshes[obj.label].extents, rtol=1e-6)
            assert obj.score == 1.0 and obj.id.startswith("scene0/object")
        check_ground_truth_explains_cloud(frame, meshes, PinholeCamera.d435())


def test_bag_of_ycbv_objects_with_kinect(tmp_path):
    if not (SHARED_CATALOG / "catalog.csv").is_file():
        pytest.skip(f"shared catalog not found at {SHARED_CATALOG}")
    from vn_perception.tools.simulate import load_models
    out = tmp_path / "bag"
    assert main(["simulate", "--out", str(out), "--camera", "kinect", *TINY]) == 0
    models = {m.label: m.mesh for m in load_models(SHARED_CATALOG)}
    frames = list(read_frames(out, CLOUD_TOPIC, GT_TOPIC))
    for frame in frames:
        assert frame.ground_truth and {o.label for o in frame.ground_truth} <= set(models)
        check_ground_truth_explains_cloud(frame, models, PinholeCamera.kinect())


def test_existing_output_is_refused(tmp_path, mesh_folder, capsys):
    assert main(["simulate", "--out", str(tmp_path), "--catalog", str(mesh_folder), *TINY]) == 2
    assert "exists" in capsys.readouterr().err
