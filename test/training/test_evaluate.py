import argparse
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import trimesh
from scipy.spatial import cKDTree

from vn_perception.data.catalog import load_catalog
from vn_perception.models.checkpoint import save_checkpoint
from vn_perception.models.factory import build_model
from vn_perception.training.evaluate import add_arguments, evaluate
from vn_perception.training.metrics import confusion_matrix, per_class_accuracy, rotation_errors_deg
from vn_perception.training.real import real_objects

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


def _checkpoint(path, protocol, config, symmetries=("discrete:z:2", "continuous:z")):
    torch.manual_seed(0)
    return save_checkpoint(path, build_model(config), {
        "classes": ["box", "can"], "symmetries": list(symmetries), "model_config": config,
        "preprocessing": {"num_points": 64, "centering": "mean"},
        "training": {"options": {"protocol": protocol}}})


def test_report_for_several_checkpoints(tiny_catalog, tiny_model_config, tmp_path):
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    paths = [_checkpoint(tmp_path / p / "model.pt", p, tiny_model_config) for p in ("z", "so3")]
    out = tmp_path / "report"
    args = parser.parse_args([*map(str, paths), "--catalog", str(tiny_catalog), "--views", "3", "--real", "",
                              "--out", str(out), "--cache-dir", str(tmp_path / "cache"), "--quiet",
                              "--device", "cpu"])
    results = evaluate(args)
    assert len(results) == 2
    for r in results.values():
        assert set(r["tests"]) == {"z", "so3"}
        for scores in r["tests"].values():
            assert scores["samples"] == 6 and 0.0 <= scores["accuracy"] <= 1.0
            assert sum(map(sum, scores["confusion"]["matrix"])) == 6
    summary = (out / "summary.md").read_text()
    assert "fast_vn / z" in summary and "fast_vn / SO(3)" in summary
    assert json.loads((out / "metrics.json").read_text())["results"]
    assert (out / "rotation_error_cdf.png").stat().st_size > 0 and list(out.glob("confusion_*.png"))


def test_metrics_helpers():
    matrix = confusion_matrix([0, 0, 1, 2], [0, 1, 1, 2], 4)
    assert matrix.tolist() == [[1, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert per_class_accuracy(matrix) == [0.5, 1.0, 1.0, None]
    turn = trimesh.transformations.rotation_matrix(np.pi, [0, 0, 1])[:3, :3]
    errors = rotation_errors_deg(np.stack([turn, turn]), np.stack([np.eye(3)] * 2), [0, 1], ["none", "discrete:z:2"])
    np.testing.assert_allclose(errors, [180.0, 0.0], atol=1e-4)


def test_real_frames_give_points_on_the_posed_model():
    path = SHARED / "real_dev" / "ycbv_real_dev.npz"
    if not path.is_file():
        pytest.skip(f"real dev frames not found at {path}")
    catalog = load_catalog(SHARED / "catalog", source="ycbv")
    meshes = {e.label: e.load_mesh() for e in catalog.entries}
    objects = real_objects(path, meshes, frames=[0, 20])
    assert len(objects) >= 5
    for o in objects:
        assert 0.0 < o.visibility <= 1.0 and len(o.points) >= 500
        np.testing.assert_allclose(o.rotation @ o.rotation.T, np.eye(3), atol=1e-4)
        surface = cKDTree(trimesh.sample.sample_surface(meshes[o.name], 20000, seed=0)[0])
        in_object = (o.points - o.translation) @ o.rotation          # R^T (p - t)
        assert np.median(surface.query(in_object)[0]) < 0.005


def test_mesh_refine_adds_a_row_per_checkpoint_with_fitted_rotations(tiny_catalog, tiny_model_config, tmp_path):
    """--mesh-refine: each checkpoint also scored with the catalog's meshes fitted by ICP. The untrained network
    calls every view a can with an arbitrary rotation; the fits of the two most probable classes' meshes put
    most boxes right and give accurate rotations."""
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    # scored with the meshes' full symmetry groups (a box is D2; a can also flips end over end)
    path = _checkpoint(tmp_path / "so3" / "model.pt", "so3", tiny_model_config, ("box", "continuous:z:flip"))
    args = parser.parse_args([str(path), "--catalog", str(tiny_catalog), "--views", "6", "--real", "",
                              "--protocols", "so3", "--out", str(tmp_path / "report"), "--mesh-refine",
                              "--cache-dir", str(tmp_path / "cache"), "--quiet", "--device", "cpu"])
    results = evaluate(args)
    plain, refined = results.values()
    assert list(results)[1] == list(results)[0] + " + mesh ICP"
    a, b = plain["tests"]["so3"], refined["tests"]["so3"]
    assert b["accuracy"] >= a["accuracy"] + 0.25 and any(a["correct"])
    assert np.median(np.array(b["errors_deg"])[np.array(b["correct"])]) < 10.0
    assert np.median(np.array(a["errors_deg"])[np.array(a["correct"])]) > 10.0
