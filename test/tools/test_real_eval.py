"""`vn-perception real-eval` on two real frames, beside another report (--compare)."""
import json

import numpy as np
import pytest
from test_bag_eval import REPORT_FILES, model_argument  # noqa: F401  (model_argument is a fixture)

from vn_perception.bag import ObjectPose
from vn_perception.cli import main
from vn_perception.data.paths import real_dev_file
from vn_perception.evaluation.metrics import Evaluation
from vn_perception.evaluation.report import METRICS_FILE, SUMMARY_FILE, write_report


def test_real_frames_report_with_comparison(tmp_path, model_argument):  # noqa: F811
    if not real_dev_file().is_file():
        pytest.skip(f"real frames not found at {real_dev_file()} (the shared data folder)")
    other = Evaluation({})
    other.add_frame(0, [ObjectPose("025_mug", np.eye(3), np.zeros(3))], [ObjectPose("025_mug", np.eye(3), np.zeros(3))])
    write_report(tmp_path / "sim", other.summary(), "bag-eval: sim")
    out = tmp_path / "real"
    assert main(["real-eval", "--out", str(out), "--frames", "0", "40", "--device", "cpu", "--min-score", "0",
                 "--compare", str(tmp_path / "sim"), *model_argument]) == 0
    for name in REPORT_FILES:
        assert (out / name).is_file()
    metrics = json.loads((out / METRICS_FILE).read_text())
    assert metrics["frames"] == 2 and metrics["detection"]["ground_truth"] == 3 + 6    # visible objects of 0 and 40
    assert metrics["detection"]["recall"] >= 0.5
    segmentation = metrics["segmentation"]
    assert segmentation["objects"] == 9 and segmentation["recall"] >= 0.5 and 0 < segmentation["precision"] <= 1
    text = (out / SUMMARY_FILE).read_text()
    assert "| metric | real | bag-eval: sim (sim) |" in text and "| segmentation recall (IoU >= 0.5) |" in text
