import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from vn_perception.classifier import DEFAULT_MODEL_PATH, MIN_POINTS, ObjectClassifier
from vn_perception.models.checkpoint import CheckpointError, save_checkpoint
from vn_perception.models.factory import build_model
from vn_perception.models.symmetry import Symmetry

CONFIG = {"encoder": "fast_vn", "num_classes": 3, "widths": [8, 8, 16], "k": 8, "head_hidden": [16]}
CLASSES = ["box", "can", "mug"]
SYMMETRIES = ["discrete:z:2", "continuous:z", "none"]
NUM_POINTS = 64


@pytest.fixture
def classifier():
    torch.manual_seed(0)
    return ObjectClassifier(build_model(CONFIG), CLASSES, SYMMETRIES, NUM_POINTS, device="cpu")


def _clouds(sizes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.normal(size=(n, 3)) * [0.05, 0.03, 0.02] + rng.uniform(-0.5, 0.5, 3) + [0, 0, 1] for n in sizes]


def test_predict_shapes_and_fields(classifier):
    clouds = _clouds([MIN_POINTS, 100, 700])
    predictions = classifier.predict(clouds)
    assert len(predictions) == 3
    for p, cloud in zip(predictions, clouds):
        assert p.label in CLASSES and p.label == CLASSES[p.index]
        assert p.probabilities.shape == (3,) and p.probabilities.sum() == pytest.approx(1.0)
        assert p.score == pytest.approx(p.probabilities.max()) and p.score == p.probabilities[p.index]
        assert p.rotation.shape == (3, 3)
        np.testing.assert_allclose(p.rotation @ p.rotation.T, np.eye(3), atol=1e-5)
        assert np.linalg.det(p.rotation) == pytest.approx(1.0, abs=1e-5)
        np.testing.assert_allclose(p.centroid, cloud.mean(axis=0))
    assert classifier.predict([]) == []
    assert all(isinstance(s, Symmetry) for s in classifier.symmetries)
    assert classifier.device == torch.device("cpu")


def test_predict_is_deterministic_and_independent_of_the_other_clouds(classifier):
    a, b = _clouds([300, 90])
    first = classifier.predict([a, b])
    again = classifier.predict([a, b])
    alone = classifier.predict([b])[0]
    for p, q in zip(first, again):
        np.testing.assert_array_equal(p.probabilities, q.probabilities)
        np.testing.assert_array_equal(p.rotation, q.rotation)
    np.testing.assert_allclose(first[1].probabilities, alone.probabilities, atol=1e-6)
    np.testing.assert_allclose(first[1].rotation, alone.rotation, atol=1e-5)
    as_tensor = classifier.predict([torch.from_numpy(a).float()])[0]
    np.testing.assert_allclose(as_tensor.probabilities, first[0].probabilities, atol=1e-5)


def test_rotating_a_cloud_rotates_the_predicted_orientation(classifier):
    cloud = _clouds([200])[0]
    Q = Rotation.from_euler("xyz", [0.3, -1.1, 2.0]).as_matrix()
    turned = (cloud - cloud.mean(0)) @ Q.T + cloud.mean(0)
    p, q = classifier.predict([cloud, turned])
    np.testing.assert_allclose(q.probabilities, p.probabilities, atol=1e-4)
    np.testing.assert_allclose(q.rotation, Q @ p.rotation, atol=1e-4)


def test_many_clouds_take_one_forward_pass(classifier):
    calls = []
    handle = classifier.model.register_forward_hook(lambda module, inputs, output: calls.append(inputs[0].shape))
    classifier.predict(_clouds([50, 60, 70, 80, 900]))
    handle.remove()
    assert calls == [torch.Size([5, NUM_POINTS, 3])]


@pytest.mark.parametrize("bad, message", [
    (np.zeros((MIN_POINTS - 1, 3)), "MIN_POINTS"),
    (np.zeros((100, 2)), "shape"),
    (np.zeros(300), "shape"),
    (np.full((100, 3), np.nan), "NaN"),
])
def test_bad_clouds_raise_clear_errors(classifier, bad, message):
    with pytest.raises(ValueError, match=message):
        classifier.predict([_clouds([100])[0], bad])


def test_load_from_checkpoint_matches_the_model_in_memory(classifier, tmp_path):
    path = save_checkpoint(tmp_path / "model.pt", classifier.model, {
        "classes": CLASSES, "symmetries": SYMMETRIES, "model_config": classifier.model.config,
        "preprocessing": {"num_points": NUM_POINTS, "centering": "mean"}})
    loaded = ObjectClassifier.load(path, device="cpu")
    assert loaded.classes == CLASSES and loaded.num_points == NUM_POINTS
    assert loaded.metadata["symmetries"] == SYMMETRIES
    clouds = _clouds([100, 400])
    for p, q in zip(classifier.predict(clouds), loaded.predict(clouds)):
        np.testing.assert_allclose(p.probabilities, q.probabilities, atol=1e-6)
    with pytest.raises(CheckpointError, match="missing.pt"):
        ObjectClassifier.load(tmp_path / "missing.pt")


def test_shipped_default_model():
    if not DEFAULT_MODEL_PATH.is_file():
        pytest.skip(f"no shipped model at {DEFAULT_MODEL_PATH}")
    from vn_perception.data.ycbv import YCBV_SYMMETRIES
    assert DEFAULT_MODEL_PATH.stat().st_size <= 20 * 2 ** 20
    classifier = ObjectClassifier.load(device="cpu")
    assert len(classifier.classes) == len(classifier.symmetries) == 21
    # the shipped metadata carries the current symmetry table (rotation errors and pose covariances use it)
    assert classifier.symmetries == [Symmetry.parse(YCBV_SYMMETRIES[c]) for c in classifier.classes]
    assert classifier.model.config["orientation"] in ("frame_mlp", "multi_frame")
    prediction = classifier.predict(_clouds([400]))[0]
    assert prediction.label in classifier.classes


def test_multi_hypothesis_model_exposes_hypotheses_and_confidences(classifier):
    torch.manual_seed(0)
    model = build_model({**CONFIG, "orientation": "multi_frame", "orientation_hidden": [16],
                         "orientation_hypotheses": 4})
    with torch.no_grad():                      # make the confidences differ (they start uniform)
        model.orientation.to_confidence.weight.normal_()
    multi = ObjectClassifier(model, CLASSES, SYMMETRIES, NUM_POINTS, device="cpu")
    cloud = _clouds([200])[0]
    Q = Rotation.from_euler("xyz", [-0.7, 0.4, 2.5]).as_matrix()
    turned = (cloud - cloud.mean(0)) @ Q.T + cloud.mean(0)
    p, q = multi.predict([cloud, turned])
    assert p.rotation_hypotheses.shape == (4, 3, 3) and p.rotation_confidences.shape == (4,)
    assert abs(p.rotation_confidences.sum() - 1.0) < 1e-9
    np.testing.assert_allclose(p.rotation, p.rotation_hypotheses[np.argmax(p.rotation_confidences)])
    np.testing.assert_allclose(q.rotation_hypotheses, Q @ p.rotation_hypotheses, atol=1e-3)
    np.testing.assert_allclose(q.rotation_confidences, p.rotation_confidences, atol=1e-4)
    plain = classifier.predict([cloud])[0]      # other heads: the extra attributes stay None
    assert plain.rotation_hypotheses is None and plain.rotation_confidences is None
