"""`vn-perception bag-eval` on a tiny simulated bag: offline (pipeline in process) and live (the node, confined)."""
import json
import os

import numpy as np
import pytest

from vn_perception.bag import CLOUD_TOPIC, GT_TOPIC, count_messages, read_ground_truth
from vn_perception.classifier import DEFAULT_MODEL_PATH
from vn_perception.cli import main
from vn_perception.evaluation.report import CDF_PLOT, CONFUSION_PLOT, LATENCY_PLOT, METRICS_FILE, SUMMARY_FILE

REPORT_FILES = (SUMMARY_FILE, METRICS_FILE, CDF_PLOT, CONFUSION_PLOT, LATENCY_PLOT)


@pytest.fixture(scope="session")
def model_argument(tmp_path_factory):
    """`--model` arguments: none (the shipped model) when it exists, else an untrained checkpoint with the
    YCB-Video classes and symmetries (detection and timing figures are still real; class and pose are chance)."""
    if DEFAULT_MODEL_PATH.exists():
        return []
    from vn_perception.data.ycbv import YCBV_SYMMETRIES
    from vn_perception.models.checkpoint import save_checkpoint
    from vn_perception.models.factory import DEFAULT_MODEL_CONFIG, build_model
    classes = sorted(YCBV_SYMMETRIES)
    config = dict(DEFAULT_MODEL_CONFIG, num_classes=len(classes))
    path = tmp_path_factory.mktemp("model") / "untrained.pt"
    save_checkpoint(path, build_model(config), {
        "classes": classes, "symmetries": [YCBV_SYMMETRIES[c] for c in classes], "model_config": config,
        "preprocessing": {"num_points": 512, "centering": "mean"}})
    return ["--model", str(path)]


@pytest.fixture(scope="module")
def tiny_bag(tmp_path_factory):
    """1 scene, 2 frames one second apart, 3 well-separated primitives named like YCB-Video classes."""
    import trimesh
    folder = tmp_path_factory.mktemp("catalog")
    trimesh.creation.box((0.07, 0.16, 0.21)).export(folder / "003_cracker_box.ply")
    trimesh.creation.cylinder(radius=0.034, height=0.10, sections=32).export(folder / "005_tomato_soup_can.ply")
    trimesh.creation.box((0.09, 0.10, 0.03)).export(folder / "009_gelatin_box.ply")
    bag = tmp_path_factory.mktemp("bags") / "tiny"
    assert main(["simulate", "--out", str(bag), "--catalog", str(folder), "--scenes", "1", "--frames-per-scene", "2",
                 "--objects-per-scene", "3", "3", "--fps", "1", "--seed", "2"]) == 0
    return bag


def check_report(folder, frames, truth_objects):
    for name in REPORT_FILES:
        assert (folder / name).is_file() and (folder / name).stat().st_size > 0
    metrics = json.loads((folder / METRICS_FILE).read_text())
    detection = metrics["detection"]
    assert metrics["frames"] == frames and detection["ground_truth"] == truth_objects
    assert detection["true_positives"] + detection["false_negatives"] == truth_objects
    assert detection["recall"] >= 0.5                      # segmentation finds separate objects on a table
    assert 0 <= detection["precision"] <= 1
    assert all(p["position_error_m"] <= metrics["match_threshold_m"] for p in metrics["pairs"])
    assert all(0 <= p["rotation_error_deg"] <= 180 for p in metrics["pairs"] if p["rotation_error_deg"] is not None)
    return metrics


def test_offline_report(tiny_bag, tmp_path, model_argument):
    out = tmp_path / "report"
    assert main(["bag-eval", str(tiny_bag), "--out", str(out), "--device", "cpu", "--min-score", "0",
                 *model_argument]) == 0
    truth = read_ground_truth(tiny_bag, GT_TOPIC)
    metrics = check_report(out, count_messages(tiny_bag, CLOUD_TOPIC), sum(len(v) for v in truth.values()))
    stages = metrics["latency_ms"]
    assert {"total", "segmentation", "inference"} <= set(stages) and stages["total"]["median"] > 0
    assert "| detection recall |" in (out / SUMMARY_FILE).read_text()


def test_offline_without_ground_truth(tiny_bag, tmp_path, model_argument):
    out = tmp_path / "report"
    assert main(["bag-eval", str(tiny_bag), "--out", str(out), "--device", "cpu", "--gt-topic", "/absent",
                 "--min-score", "0", *model_argument]) == 0
    metrics = json.loads((out / METRICS_FILE).read_text())
    assert metrics["frames"] == 2 and metrics["frames_with_ground_truth"] == 0
    assert metrics["detection"]["recall"] is None and metrics["detections"]["total"] > 0
    assert "none (detections and timings only)" in (out / SUMMARY_FILE).read_text()


def test_live_refuses_unconfined(tiny_bag, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("VN_ROS_CONFINED", raising=False)
    assert main(["bag-eval", str(tiny_bag), "--live", "--out", str(tmp_path / "r")]) == 2
    assert "ros-confined" in capsys.readouterr().err


@pytest.mark.ros
def test_live_report(tiny_bag, tmp_path, model_argument):
    if os.environ.get("VN_ROS_CONFINED") != "1":
        pytest.skip("live mode runs rclpy: bash scripts/ros-confined .venv/bin/python -m pytest ...")
    out = tmp_path / "live"
    assert main(["bag-eval", str(tiny_bag), "--live", "--out", str(out), "--device", "cpu", "--min-score", "0",
                 *model_argument]) == 0
    metrics = json.loads((out / METRICS_FILE).read_text())
    assert metrics["notes"]["clouds published"] == 2 and metrics["notes"]["clouds answered"] >= 1
    truth = read_ground_truth(tiny_bag, GT_TOPIC)
    answered = metrics["frames"]
    expected_truth = sum(len(truth[r["stamp_ns"]]) for r in metrics["frame_records"])
    check_report(out, answered, expected_truth)
    latency = np.array([r["timings_s"]["end_to_end"] for r in metrics["frame_records"]])
    assert np.all((latency > 0) & (latency < 30))


def test_prediction_poses_use_the_mesh_origin_when_refined():
    from vn_perception.pipeline import Detection
    from vn_perception.tools.bag_eval import prediction_poses
    common = dict(orientation_xyzw=np.array([0.0, 0.0, 0.0, 1.0]), rotation=np.eye(3), size=np.ones(3),
                  point_count=40, indices=np.arange(40))
    box = Detection("mug", 0.9, np.array([0.0, 0.0, 1.0]), **common)
    refined = Detection("mug", 0.9, np.array([0.0, 0.0, 1.0]), translation=np.array([0.01, 0.0, 1.03]), **common)
    low = Detection("can", 0.1, np.array([0.2, 0.0, 1.0]), **common)
    poses = prediction_poses([box, refined, low], min_score=0.5)
    assert [p.label for p in poses] == ["mug", "mug"]
    assert np.allclose(poses[0].position, [0.0, 0.0, 1.0]) and np.allclose(poses[1].position, [0.01, 0.0, 1.03])
