"""`vn-perception benchmark` with tiny sizes: the JSON's structure (no timing assertions)."""
import json

import pytest

from vn_perception.cli import build_parser
from vn_perception.tools import benchmark
from vn_perception.tools.bench_segmentation import DEFAULT_DATA_DIR, REAL_DEV_FILE

pytestmark = pytest.mark.skipif(not (DEFAULT_DATA_DIR / REAL_DEV_FILE).exists(),
                                reason=f"real dev frames absent ({DEFAULT_DATA_DIR / REAL_DEV_FILE})")

TINY = ["--frames", "1", "--repeat", "1", "--batch-sizes", "1,2", "--points", "32", "--peers", "vn_pointnet",
        "--repeats", "1", "--max-seconds", "0.2", "--train-batch", "2", "--train-points", "32", "--train-steps", "1",
        "--device", "cpu"]


def _run(tmp_path, sections, monkeypatch):
    monkeypatch.delenv("VN_ROS_CONFINED", raising=False)         # the node section must skip here
    out = tmp_path / "benchmark.json"
    args = build_parser("benchmark").parse_args(["benchmark", "--sections", sections, "--out", str(out), *TINY])
    assert benchmark.run(args) == 0
    return json.loads(out.read_text())


def test_json_structure(tmp_path, monkeypatch, capsys):
    results = _run(tmp_path, "pipeline,classifier,precision,training,node", monkeypatch)
    assert {"meta", "pipeline", "classifier", "precision", "training", "node", "targets", "memory"} <= set(results)
    pipeline = results["pipeline"]
    assert pipeline["frames"] == 1 and set(pipeline["wall"]) == set(pipeline["cpu"]) == set(benchmark.PIPELINE_STAGES)
    assert all({"median_ms", "p95_ms", "min_ms", "n"} <= set(stats) for stats in pipeline["wall"].values())
    rows = results["classifier"]["rows"]
    assert set(rows) == {"default", "vn_pointnet"} and [(r["batch"], r["points"]) for r in rows["default"]] == [(1, 32),
                                                                                                            (2, 32)]
    assert set(results["classifier"]["speedup_vs_default"]["vn_pointnet"]) == {"1x32", "2x32"}
    assert "float32" in results["precision"] and "bfloat16" in results["precision"]
    assert set(results["training"]["encoders"]) == {"fast_vn", "vn_pointnet"}
    assert "skipped" in results["node"]
    assert {"pipeline_median_ms", "pipeline_p95_ms"} <= set(results["targets"])
    assert all(len(section["load_average"]) == 2 for name, section in results.items()
               if name in benchmark.SECTIONS)
    assert "pipeline per 640x480 frame" in capsys.readouterr().out


def test_unknown_section_is_an_error(tmp_path, monkeypatch):
    args = build_parser("benchmark").parse_args(["benchmark", "--sections", "pipeline,nonsense"])
    assert benchmark.run(args) == 2
