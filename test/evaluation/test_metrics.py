"""Metrics on constructed frames whose true/false positives, misses and rotation errors are known."""
import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from vn_perception.bag import ObjectPose
from vn_perception.evaluation.metrics import Evaluation

SYMMETRIES = {"can": "continuous:z", "box": "discrete:z:2", "mug": "none"}


def pose(label, position, rotation=np.eye(3), score=1.0):
    return ObjectPose(label, np.asarray(rotation, dtype=float), np.asarray(position, dtype=float), np.ones(3), score)


def about_z(degrees):
    return Rotation.from_euler("z", degrees, degrees=True).as_matrix()


def test_counts_precision_recall_and_accuracy():
    evaluation = Evaluation(SYMMETRIES, threshold_m=0.05)
    truth = [pose("can", [0, 0, 1]), pose("box", [0.3, 0, 1]), pose("mug", [-0.3, 0, 1])]
    predicted = [pose("can", [0.01, 0, 1]), pose("mug", [0.31, 0, 1]),       # right class, wrong class
                 pose("box", [0, 0.4, 1])]                                   # nothing there: false positive
    evaluation.add_frame(1, predicted, truth)
    evaluation.add_frame(2, [pose("can", [0, 0, 1])], [pose("can", [0, 0, 1.02])])
    evaluation.add_frame(3, [pose("box", [0, 0, 1])], None)                 # no ground truth: not scored
    s = evaluation.summary()
    d = s["detection"]
    assert (d["ground_truth"], d["predictions"], d["true_positives"]) == (4, 4, 3)
    assert (d["false_positives"], d["false_negatives"]) == (1, 1)
    assert d["near_misses"] == 0                       # the spare "box" is 0.5 m from the missed mug
    assert d["precision"] == pytest.approx(0.75) and d["recall"] == pytest.approx(0.75)
    assert d["f1"] == pytest.approx(0.75)
    assert s["frames"] == 3 and s["frames_with_ground_truth"] == 2 and s["detections"]["total"] == 5
    assert s["classification"] == {"matched": 3, "correct": 2, "accuracy": pytest.approx(2 / 3)}
    assert s["rotation"]["pairs"] == 2 and s["rotation"]["median_deg"] == pytest.approx(0.0, abs=1e-6)
    assert s["position"]["median_m"] == pytest.approx(0.01)
    box, mug = s["per_class"]["box"], s["per_class"]["mug"]
    assert box["recall"] == 1.0 and box["accuracy"] == 0.0 and box["false_positives"] == 1   # found, misnamed
    assert mug["recall"] == 0.0 and mug["predicted"] == 1
    assert s["per_class"]["can"]["recall"] == pytest.approx(1.0) and s["per_class"]["can"]["accuracy"] == 1.0
    labels = s["confusion"]["labels"]
    matrix = np.array(s["confusion"]["matrix"])
    assert matrix.sum() == 3 and matrix[labels.index("box"), labels.index("mug")] == 1


@pytest.mark.parametrize("label, turn_deg, expected_deg", [
    ("can", 90.0, 0.0),      # continuous symmetry about z: any turn about z is no error
    ("box", 180.0, 0.0),     # 2-fold about z
    ("box", 90.0, 90.0),
    ("mug", 180.0, 180.0),   # no symmetry
    ("mug", 20.0, 20.0),
])
def test_symmetry_aware_rotation_error(label, turn_deg, expected_deg):
    evaluation = Evaluation(SYMMETRIES)
    tilt = Rotation.from_euler("x", 30, degrees=True).as_matrix()            # any ground-truth orientation
    evaluation.add_frame(0, [pose(label, [0, 0, 1], tilt @ about_z(turn_deg))], [pose(label, [0, 0, 1], tilt)])
    assert evaluation.summary()["rotation"]["median_deg"] == pytest.approx(expected_deg, abs=1e-4)


def test_rotation_accuracy_thresholds_and_latency():
    evaluation = Evaluation({})
    for k, error in enumerate([2.0, 7.0, 12.0, 20.0, 40.0]):
        evaluation.add_frame(k, [pose("mug", [0, 0, 1], about_z(error))], [pose("mug", [0, 0, 1])],
                             {"total": 0.01 * (k + 1), "classify": 0.005})
    s = evaluation.summary()
    assert s["rotation"]["accuracy_at_deg"] == pytest.approx({"5": 0.2, "10": 0.4, "15": 0.6, "30": 0.8})
    assert s["rotation"]["mean_deg"] == pytest.approx(16.2, abs=1e-4)
    assert s["latency_ms"]["total"]["median"] == pytest.approx(30.0)
    assert s["latency_ms"]["total"]["max"] == pytest.approx(50.0) and s["latency_ms"]["classify"]["count"] == 5


def test_frames_without_ground_truth_only():
    evaluation = Evaluation({})
    evaluation.add_frame(0, [pose("mug", [0, 0, 1])], None)
    s = evaluation.summary()
    assert s["detection"]["precision"] is None and s["detection"]["recall"] is None and s["detection"]["f1"] is None
    assert s["detections"]["by_label"] == {"mug": 1}


def test_near_misses():
    evaluation = Evaluation({}, threshold_m=0.05)
    evaluation.add_frame(0, [pose("mug", [0.07, 0, 1]), pose("mug", [0.5, 0, 1])], [pose("mug", [0, 0, 1])])
    d = evaluation.summary()["detection"]
    assert (d["true_positives"], d["false_negatives"], d["near_misses"]) == (0, 1, 1)
