"""ScenePipeline with a stand-in classifier (a real object implementing the ObjectClassifier API)."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vn_perception.perception.synthetic import Shape, tabletop_scene
from vn_perception.pipeline import DEFAULT_CONFIG_PATH, Detection, ScenePipeline, load_pipeline_config

SHAPES = [Shape("box", (0.08, 0.06, 0.12), (-0.15, 0.0), 0.3),
          Shape("cylinder", (0.04, 0.10), (0.05, 0.05)),
          Shape("box", (0.05, 0.05, 0.08), (0.2, -0.1), 0.5)]


class Prediction:
    def __init__(self, label, score, rotation, centroid, classes):
        self.label, self.score, self.rotation, self.centroid = label, score, rotation, centroid
        self.probabilities = np.full(len(classes), (1 - score) / (len(classes) - 1))
        self.probabilities[classes.index(label)] = score


class SizeAndPcaClassifier:
    """Labels a cloud by its point count, orients it by its principal axes (a proper rotation)."""
    MIN_POINTS = 32
    classes = ["small", "large"]

    def __init__(self, large_from=4000):
        self.large_from = large_from
        self.calls = []

    def predict(self, clouds):
        self.calls.append([len(c) for c in clouds])
        out = []
        for cloud in clouds:
            centred = cloud - cloud.mean(axis=0)
            _, _, vt = np.linalg.svd(centred, full_matrices=False)
            rotation = vt.T * np.array([1.0, 1.0, np.linalg.det(vt.T)])   # columns: object axes, det +1
            large = len(cloud) >= self.large_from
            out.append(Prediction("large" if large else "small", 0.9 if large else 0.6, rotation, cloud.mean(axis=0),
                                  self.classes))
        return out


@pytest.fixture(scope="module")
def scene():
    return tabletop_scene(SHAPES, depth_noise_m=0.001, rng=np.random.default_rng(4))


def test_detections_fields_and_one_predict_call(scene):
    classifier = SizeAndPcaClassifier()
    pipe = ScenePipeline.from_config({"num_points": 5000}, classifier=classifier)
    detections = pipe.process(scene.points)
    assert len(detections) == len(SHAPES) and len(classifier.calls) == 1
    flat = scene.points.reshape(-1, 3)
    for d in detections:
        assert isinstance(d, Detection) and d.label in classifier.classes and 0 <= d.score <= 1
        assert d.position.shape == (3,) and d.size.shape == (3,) and d.rotation.shape == (3, 3)
        np.testing.assert_allclose(Rotation.from_quat(d.orientation_xyzw).as_matrix(), d.rotation, atol=1e-5)
        assert d.point_count == len(d.indices) and np.isfinite(flat[d.indices]).all()
        # every point lies in the oriented box: |R^T (p - position)| <= size / 2
        in_box = (flat[d.indices] - d.position) @ d.rotation
        assert (np.abs(in_box) <= d.size / 2 + 1e-5).all()
        assert (np.bincount(scene.instance.reshape(-1)[d.indices]).argmax()) > 0
        # the class probabilities travel with the detection (top-k hypotheses downstream)
        assert d.probabilities.shape == (len(classifier.classes),)
        assert d.probabilities[classifier.classes.index(d.label)] == pytest.approx(d.score)
    assert {"crop", "plane", "cluster", "filter", "segmentation", "sampling", "inference", "total"} <= set(pipe.timings)
    assert pipe.timings["total"] >= pipe.timings["segmentation"]


def test_num_points_subsets_and_min_score_max_objects(scene):
    classifier = SizeAndPcaClassifier()
    pipe = ScenePipeline.from_config({"num_points": 256, "max_objects": 2}, classifier=classifier)
    detections = pipe.process(scene.points)
    assert classifier.calls == [[256, 256]] and len(detections) == 2
    assert detections[0].point_count >= detections[1].point_count
    strict = ScenePipeline.from_config({"min_score": 0.95}, classifier=SizeAndPcaClassifier())
    assert strict.process(scene.points) == []


def test_unorganized_input_gives_the_same_objects(scene):
    flat = scene.points.reshape(-1, 3)
    valid = np.flatnonzero(np.isfinite(flat[:, 2]))
    detections = ScenePipeline.from_config(None, classifier=SizeAndPcaClassifier()).process(flat[valid])
    assert len(detections) == len(SHAPES)


@pytest.mark.parametrize("points", [np.zeros((0, 3)), np.full((30, 40, 3), np.nan)])
def test_empty_input(points):
    classifier = SizeAndPcaClassifier()
    assert ScenePipeline.from_config(None, classifier=classifier).process(points) == []
    assert classifier.calls == []


@pytest.mark.parametrize("points", [np.zeros((10, 4)), np.array([[0.0, 0.0, np.inf]] * 5)])
def test_bad_input(points):
    with pytest.raises(ValueError):
        ScenePipeline.from_config(None, classifier=SizeAndPcaClassifier()).process(points)


def test_config_loading(tmp_path):
    defaults = load_pipeline_config(None)
    assert defaults["classifier"] == {"model_path": None, "device": "auto"} and DEFAULT_CONFIG_PATH.exists()
    path = tmp_path / "pipe.yaml"
    path.write_text("segmentation:\n  voxel_size_m: 0.01\nmin_score: 0.5\n")
    pipe = ScenePipeline.from_config(str(path), classifier=SizeAndPcaClassifier())
    assert pipe.segmentation.voxel_size_m == 0.01 and pipe.min_score == 0.5
    assert pipe.segmentation.plane_distance_m == defaults["segmentation"]["plane_distance_m"]
    with pytest.raises(ValueError, match="unknown pipeline setting"):
        load_pipeline_config({"segmentaton": {}})
    with pytest.raises(FileNotFoundError):
        load_pipeline_config(tmp_path / "missing.yaml")


def test_with_the_real_classifier(scene):
    classifier_module = pytest.importorskip("vn_perception.classifier")
    if not classifier_module.DEFAULT_MODEL_PATH.exists():
        pytest.skip(f"no default model at {classifier_module.DEFAULT_MODEL_PATH}")
    pipe = ScenePipeline.from_config({"classifier": {"device": "cpu"}})
    detections = pipe.process(scene.points)
    assert len(detections) == len(SHAPES)
    for d in detections:
        assert d.label in pipe.classifier.classes
        np.testing.assert_allclose(d.rotation @ d.rotation.T, np.eye(3), atol=1e-4)


def test_pose_refinement_aligns_the_class_mesh(tmp_path):
    """pose_refinement.catalog: the mesh of the predicted class is fitted to the object's points; the pose of
    the mesh frame (rotation + mesh origin) then matches the scene: a standing box's centre lies half its
    height above the table and its height axis along the table normal."""
    import trimesh
    box = Shape("box", (0.08, 0.06, 0.12), (0.0, 0.0), 0.3)
    scene = tabletop_scene([box], depth_noise_m=0.001, rng=np.random.default_rng(5))
    (tmp_path / "large.ply").write_bytes(trimesh.exchange.ply.export_ply(box.mesh()))
    (tmp_path / "labels.yaml").write_text("large.ply: {class: large}\n")
    classifier = SizeAndPcaClassifier(large_from=0)
    plain = ScenePipeline.from_config({"num_points": 2000}, classifier=classifier).process(scene.points)
    assert plain[0].translation is None and plain[0].fit_rms_m is None
    pipe = ScenePipeline.from_config({"num_points": 2000, "pose_refinement": {"catalog": str(tmp_path)}},
                                     classifier=SizeAndPcaClassifier(large_from=0))
    (detection,) = pipe.process(scene.points)
    assert detection.label == "large" and detection.fit_rms_m < 0.003
    height_above_table = float(scene.normal @ detection.translation + scene.offset)
    assert abs(height_above_table - 0.06) < 0.004
    assert abs(abs(detection.rotation[:, 2] @ scene.normal) - 1.0) < 1e-2          # within ~8 deg
    np.testing.assert_allclose(Rotation.from_quat(detection.orientation_xyzw).as_matrix(), detection.rotation,
                               atol=1e-6)
    with pytest.raises(ValueError, match="no mesh of the classes"):
        ScenePipeline.from_config({"pose_refinement": {"catalog": str(tmp_path)}}, classifier=_OtherClasses())


class _OtherClasses(SizeAndPcaClassifier):
    classes = ["mug", "bowl"]
