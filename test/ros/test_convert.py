"""Detections -> vision_msgs / markers / diagnostics, with the real message classes (no rclpy context)."""
import math

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vn_perception.models.symmetry import Symmetry
from vn_perception.pipeline import Detection
from vn_perception.ros import convert


def _detection(label="mug", score=0.8, rotation=None, position=(0.1, -0.2, 0.9), size=(0.12, 0.08, 0.1),
               point_count=2000, probabilities=None):
    rotation = np.eye(3) if rotation is None else np.asarray(rotation)
    detection = Detection(label=label, score=score, position=np.asarray(position, dtype=float),
                          orientation_xyzw=Rotation.from_matrix(rotation).as_quat(), rotation=rotation,
                          size=np.asarray(size, dtype=float), point_count=point_count,
                          indices=np.arange(point_count))
    if probabilities is not None:
        detection.probabilities = np.asarray(probabilities)
    return detection


def _header(frame="camera", sec=7):
    from std_msgs.msg import Header
    header = Header(frame_id=frame)
    header.stamp.sec = sec
    return header


def _rotation_block(covariance):
    return np.array(covariance).reshape(6, 6)[3:, 3:]


@pytest.fixture
def rotation():
    return Rotation.from_euler("zyx", [40, -25, 110], degrees=True).as_matrix()


def test_asymmetric_rotation_covariance_is_small_and_isotropic(rotation):
    covariance = convert.pose_covariance(rotation, (0.1, 0.05, 0.2), 500, Symmetry.parse("none"))
    assert np.allclose(_rotation_block(covariance), np.eye(3) * convert.ROTATION_STD_RAD ** 2)


@pytest.mark.parametrize("text, axis_index", [("continuous:z", 2), ("continuous:y:flip", 1)])
def test_continuous_symmetry_is_unobservable_about_its_axis_in_the_published_frame(rotation, text, axis_index):
    block = _rotation_block(convert.pose_covariance(rotation, (0.07, 0.07, 0.1), 500, Symmetry.parse(text)))
    eigenvalues, eigenvectors = np.linalg.eigh(block)
    assert eigenvalues[-1] == pytest.approx(math.pi ** 2 / 3)          # a uniform angle on (-pi, pi]
    assert eigenvalues[:2] == pytest.approx([convert.ROTATION_STD_RAD ** 2] * 2)
    symmetry_axis = rotation[:, axis_index]                            # the object's axis, published frame
    assert abs(eigenvectors[:, -1] @ symmetry_axis) == pytest.approx(1.0)


def test_rotation_sigma_comes_from_the_checkpoint_validation_error(rotation):
    sigma = convert.rotation_std_rad({"metrics": {"val_rotation_median_deg": 20.0}})
    angles = np.linalg.norm(np.random.default_rng(0).normal(0.0, sigma, size=(200_000, 3)), axis=1)
    assert np.degrees(np.median(angles)) == pytest.approx(20.0, rel=0.01), "median error angle of that sigma"
    assert convert.rotation_std_rad({"metrics": {}}) == convert.rotation_std_rad(None) == convert.ROTATION_STD_RAD
    block = _rotation_block(convert.pose_covariance(rotation, (0.1, 0.1, 0.1), 500, None, rotation_std=sigma))
    assert np.allclose(block, np.eye(3) * sigma ** 2)


def test_discrete_symmetry_keeps_the_small_rotation_covariance(rotation):
    block = _rotation_block(convert.pose_covariance(rotation, (0.1, 0.1, 0.1), 500, Symmetry.parse("box")))
    assert np.allclose(block, np.eye(3) * convert.ROTATION_STD_RAD ** 2)


def test_position_variance_grows_with_size_and_shrinks_with_points():
    def position_variance(size, points):
        covariance = np.array(convert.pose_covariance(np.eye(3), size, points)).reshape(6, 6)
        assert np.allclose(covariance[:3, :3], covariance[0, 0] * np.eye(3)), "isotropic"
        assert np.allclose(covariance[:3, 3:], 0)
        return covariance[0, 0]
    assert position_variance((0.2, 0.1, 0.1), 500) > position_variance((0.1, 0.1, 0.1), 500)
    assert position_variance((0.1, 0.1, 0.1), 50) > position_variance((0.1, 0.1, 0.1), 5000)
    assert math.sqrt(position_variance((0.1, 0.1, 0.1), 10 ** 9)) == pytest.approx(0.1 * convert.CENTROID_BIAS_FRACTION)


def test_detection_array_carries_pose_box_hypotheses_and_header(rotation):
    classes = ["bowl", "can", "mug"]
    detections = [_detection("mug", 0.7, rotation, probabilities=[0.1, 0.2, 0.7]),
                  _detection("can", 0.6, np.eye(3), (0.3, 0.0, 1.0), probabilities=[0.3, 0.6, 0.1])]
    symmetries = [Symmetry.parse("continuous:z"), Symmetry.parse("continuous:z:flip"), Symmetry.parse("none")]
    message = convert.detection_array(detections, _header(), classes, symmetries, top_k=2)
    assert message.header.frame_id == "camera" and message.header.stamp.sec == 7
    assert [d.id for d in message.detections] == ["0", "1"]
    first = message.detections[0]
    assert [(r.hypothesis.class_id, r.hypothesis.score) for r in first.results] == [("mug", 0.7), ("can", 0.2)]
    assert all(r.pose.pose == first.bbox.center for r in first.results)
    q = first.bbox.center.orientation
    assert np.allclose(Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix(), rotation)
    assert [first.bbox.size.x, first.bbox.size.y, first.bbox.size.z] == pytest.approx([0.12, 0.08, 0.1])
    can = message.detections[1]
    assert [r.hypothesis.class_id for r in can.results] == ["can", "bowl"]
    eigenvalues = np.linalg.eigvalsh(_rotation_block(can.results[0].pose.covariance))
    assert eigenvalues[-1] == pytest.approx(math.pi ** 2 / 3), "the can's symmetry is used"


def test_top_k_without_probabilities_is_the_label_alone():
    assert convert.top_hypotheses(_detection("mug", 1.2), ["mug"], 5) == [("mug", 1.0)]


def test_frame_transform_moves_pose_and_rotates_covariance(rotation):
    frame_rotation = Rotation.from_euler("x", 90, degrees=True).as_matrix()
    frame_translation = np.array([1.0, 2.0, 3.0])
    detection = _detection("can", 0.9, rotation)
    message = convert.detection_array([detection], _header("base_link"), ["can"], [Symmetry.parse("continuous:z")],
                                      frame_transform=(frame_rotation, frame_translation))
    pose = message.detections[0].bbox.center
    expected_position = frame_rotation @ detection.position + frame_translation
    assert [pose.position.x, pose.position.y, pose.position.z] == pytest.approx(list(expected_position))
    q = pose.orientation
    assert np.allclose(Rotation.from_quat([q.x, q.y, q.z, q.w]).as_matrix(), frame_rotation @ rotation)
    _, vectors = np.linalg.eigh(_rotation_block(message.detections[0].results[0].pose.covariance))
    assert abs(vectors[:, -1] @ (frame_rotation @ rotation[:, 2])) == pytest.approx(1.0)


def test_transform_points_keeps_nan():
    points = np.array([[[1.0, 0.0, 0.0], [np.nan, np.nan, np.nan]]], dtype=np.float32)
    moved = convert.transform_points(points, Rotation.from_euler("z", 90, degrees=True).as_matrix(), (0, 0, 1))
    assert moved.shape == points.shape and moved.dtype == np.float32
    assert moved[0, 0] == pytest.approx([0.0, 1.0, 1.0], abs=1e-6)
    assert np.isnan(moved[0, 1]).all()


def test_markers_start_with_deleteall_and_draw_box_label_axes(rotation):
    from visualization_msgs.msg import Marker
    classes = ["can", "mug"]
    message = convert.detection_array([_detection("mug", 0.75, rotation), _detection("can", 0.5)], _header(),
                                      classes)
    markers = convert.marker_array(message, classes, namespace="/points").markers
    cleared = [m.ns for m in markers[:3] if m.action == Marker.DELETEALL]
    assert cleared == ["/points/boxes", "/points/labels", "/points/axes"]
    assert {m.ns for m in markers[3:]} == set(cleared) and Marker.DELETEALL not in {m.action for m in markers[3:]}
    cubes = [m for m in markers if m.type == Marker.CUBE]
    assert [c.pose for c in cubes] == [d.bbox.center for d in message.detections]
    assert (cubes[0].scale.x, cubes[0].scale.y, cubes[0].scale.z) == pytest.approx((0.12, 0.08, 0.1))
    assert cubes[0].color != cubes[1].color, "classes have different colours"
    assert [m.text for m in markers if m.type == Marker.TEXT_VIEW_FACING] == ["mug 0.75", "can 0.50"]
    axes = [m for m in markers if m.type == Marker.LINE_LIST]
    assert len(axes) == 2 and all(len(a.points) == 6 and len(a.colors) == 6 for a in axes)
    assert len({(m.ns, m.id) for m in markers[3:]}) == len(markers) - 3, "marker ids are unique per namespace"
    assert all(m.header == message.header for m in markers)


def test_label_info_and_diagnostic_status():
    from diagnostic_msgs.msg import DiagnosticStatus
    info = convert.label_info(["bowl", "can"], _header(), 0.3)
    assert [(c.class_id, c.class_name) for c in info.class_map] == [(0, "bowl"), (1, "can")]
    assert info.threshold == pytest.approx(0.3)
    status = convert.diagnostic_status("vn_perception: pipeline", "cpu", DiagnosticStatus.WARN, "2 malformed",
                                       {"malformed": 2, "latency_mean_ms": 12.3456, "device": "cpu"})
    assert status.level == DiagnosticStatus.WARN
    assert {kv.key: kv.value for kv in status.values} == {"malformed": "2", "latency_mean_ms": "12.346",
                                                          "device": "cpu"}


def test_refined_detection_publishes_the_mesh_frame_pose(rotation):
    """With pose refinement the results' pose is the mesh frame's (rotation + mesh origin, moved into the
    published frame); the box keeps its own centre."""
    detection = _detection("mug", 0.9, rotation)
    detection.translation = np.array([0.12, -0.18, 0.95])
    frame_rotation = Rotation.from_euler("z", 30, degrees=True).as_matrix()
    frame_translation = np.array([0.5, 0.0, 1.0])
    message = convert.detection_array([detection], _header("base_link"), ["mug"], [Symmetry.parse("none")],
                                      frame_transform=(frame_rotation, frame_translation))
    box, pose = message.detections[0].bbox.center, message.detections[0].results[0].pose.pose
    expected = frame_rotation @ detection.translation + frame_translation
    assert [pose.position.x, pose.position.y, pose.position.z] == pytest.approx(list(expected))
    assert [box.position.x, box.position.y, box.position.z] == pytest.approx(
        list(frame_rotation @ detection.position + frame_translation))
    assert pose.orientation == box.orientation


def test_mesh_refined_detections_get_the_refined_rotation_sigma(rotation):
    metadata = {"metrics": {"val_rotation_median_deg": 30.0},
                "evaluation": {"with_mesh_refinement": {"so3": {"rotation_median_deg_correct": 1.2},
                                                        "real": {"rotation_median_deg_correct": 2.5}}}}
    coarse, refined = convert.rotation_std_rad(metadata), convert.rotation_std_rad(metadata, mesh_refined=True)
    assert refined == pytest.approx(convert.rotation_std_rad({"metrics": {"val_rotation_median_deg": 2.5}}))
    assert convert.rotation_std_rad({"metrics": {}}, mesh_refined=True) is None
    plain, fitted = _detection("mug", 0.9, rotation), _detection("mug", 0.9, rotation)
    fitted.translation = np.array([0.1, -0.2, 0.95])
    message = convert.detection_array([plain, fitted], _header(), ["mug"], [Symmetry.parse("none")],
                                      rotation_std=coarse, refined_rotation_std=refined)
    blocks = [_rotation_block(d.results[0].pose.covariance) for d in message.detections]
    assert np.allclose(blocks[0], np.eye(3) * coarse ** 2) and np.allclose(blocks[1], np.eye(3) * refined ** 2)
