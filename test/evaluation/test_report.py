"""Report folders: files written, tables filled, comparison columns, metrics.json round trip."""
import json

import numpy as np

from vn_perception.bag import ObjectPose
from vn_perception.evaluation.metrics import Evaluation
from vn_perception.evaluation.report import (CDF_PLOT, CONFUSION_PLOT, LATENCY_PLOT, SUMMARY_FILE, load_metrics,
                                             markdown_table, write_report)

PNG_SIGNATURE = b"\x89PNG"


def _summary():
    evaluation = Evaluation({"can": "continuous:z"})
    rng = np.random.default_rng(0)
    for k in range(6):
        truth = [ObjectPose("can", np.eye(3), np.array([0.0, 0.0, 1.0])),
                 ObjectPose("mug", np.eye(3), np.array([0.2, 0.0, 1.0]))]
        predicted = [ObjectPose("can" if k % 3 else "mug", np.eye(3), np.array([0.01, 0.0, 1.0]), score=0.9)]
        evaluation.add_frame(k, predicted, truth, {"total": rng.uniform(0.05, 0.1), "segment": 0.02})
    return evaluation.summary()


def test_report_files(tmp_path):
    summary = _summary()
    other = dict(summary, frames=99)
    folder = write_report(tmp_path / "report", summary, "bag-eval: test", {"model": "untrained"},
                          compare={"sim": other}, name="real")
    for name in (CDF_PLOT, CONFUSION_PLOT, LATENCY_PLOT):
        assert (folder / name).read_bytes()[:4] == PNG_SIGNATURE
    text = (folder / SUMMARY_FILE).read_text()
    assert text.startswith("# bag-eval: test") and "- model: untrained" in text
    assert "| metric | real | sim |" in text and "| frames | 6 | 99 |" in text
    assert "| detection recall | 50.0 % | 50.0 % |" in text
    assert "| can | 6 | 6 | 100.0 % | 66.7 % |" in text                # per-class row
    assert "| segment |" in text                                      # latency per stage
    metrics = load_metrics(folder)
    assert metrics["title"] == "bag-eval: test" and metrics["detection"] == summary["detection"]
    json.dumps(metrics, allow_nan=False)                               # strict JSON: no NaN anywhere


def test_markdown_table():
    assert markdown_table(["a", "b"], [[1, "x"]]) == "| a | b |\n|---|---|\n| 1 | x |"
