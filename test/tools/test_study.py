"""`vn-perception study --quick` end to end: every run of the grid trains, is evaluated and written; a rerun
skips done runs; the aggregate has the table, the plots and the measured (non-)equivariance."""
import json

import pytest

from vn_perception.cli import main as cli_main
from vn_perception.data.catalog import load_catalog
from vn_perception.data.paths import shared_catalog_dir
from vn_perception.tools import study

pytestmark = pytest.mark.skipif(not (shared_catalog_dir() / "catalog.csv").is_file(),
                                reason="shared catalog not available")

VARIANTS = ["per_channel", "sensor_octant"]


def test_quick_study_end_to_end(tmp_path):
    out, report, cache = tmp_path / "runs", tmp_path / "report", tmp_path / "cache"
    argv = ["study", "--quick", "--out", str(out), "--report", str(report), "--cache-dir", str(cache),
            "--variants", *VARIANTS, "--seeds", "0", "1"]
    assert cli_main(argv) == 0

    results = study.load_results(out)
    expected = {(t, v, p, s) for t in study.TASKS for v in VARIANTS for p in study.TRAIN_PROTOCOLS for s in (0, 1)}
    assert {(r["task"], r["variant"], r["protocol"], r["seed"]) for r in results} == expected
    for r in results:
        assert set(r["tests"]) == set(study.TEST_PROTOCOLS)
        assert all(0.0 <= t["accuracy"] <= 1.0 and t["samples"] > 0 for t in r["tests"].values())
        assert r["epochs"] == study.QUICK["epochs"] and r["parameters"] > 0 and r["train_seconds"] > 0
        folder = study.run_folder(out, r["task"], r["variant"], r["protocol"], r["seed"])
        assert (folder / "model.pt").is_file() and not list(folder.glob("epoch_*.pt"))
        # the paper's layer is exactly invariant / equivariant in float64; the sensor-frame octants are not
        if r["variant"] == "per_channel":
            assert r["equivariance"]["logits"] < 1e-9 and r["equivariance"]["rotation"] < 1e-9
        else:
            assert r["equivariance"]["logits"] > 1e-6

    # the category task tests on unseen instances of the same classes
    train = load_catalog(out / "catalogs" / "category" / "train")
    test = load_catalog(out / "catalogs" / "category" / "test")
    assert train.classes == test.classes
    assert not {e.name for e in train.entries} & {e.name for e in test.entries}

    text = (report / "results.md").read_text()
    for task in study.TASKS:
        assert f"Task `{task}`" in text
    for variant in VARIANTS:
        assert f"`{variant}`" in text
    assert "±" in text and (report / "accuracy.png").stat().st_size > 0
    assert (report / "orientation_equivariance.png").stat().st_size > 0
    table = json.loads((report / "results.json").read_text())["table"]
    assert table["ycbv_instance"]["per_channel"]["SO(3)/SO(3)"]["n"] == 2

    # resume: a second invocation trains nothing and leaves the results untouched
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/*/*/seed*/result.json")}
    assert cli_main(argv) == 0
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/*/*/seed*/result.json")} == stamps
