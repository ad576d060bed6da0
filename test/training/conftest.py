"""Tiny training set-up: two primitive meshes, a few views, a small fast_vn."""
import json

import pytest
import trimesh

TINY_MODEL = {"widths": [8, 8, 16], "k": 8, "head_hidden": [16], "orientation_hidden": []}


@pytest.fixture
def tiny_model_config():
    """A fast_vn small enough to train in seconds (2 classes)."""
    return {"encoder": "fast_vn", "num_classes": 2, **TINY_MODEL}


@pytest.fixture
def tiny_catalog(tmp_path):
    folder = tmp_path / "meshes"
    folder.mkdir()
    trimesh.creation.box((0.10, 0.06, 0.04)).export(folder / "box.ply")
    trimesh.creation.cylinder(radius=0.03, height=0.12, sections=32).export(folder / "can.ply")
    (folder / "labels.yaml").write_text('box.ply: {class: box, symmetry: "discrete:z:2"}\n'
                                        'can.ply: {class: can, symmetry: "continuous:z"}\n')
    return folder


@pytest.fixture
def tiny_args(tiny_catalog, tmp_path):
    """Command-line options of a tiny run (a list; add --out)."""
    return ["--catalog", str(tiny_catalog), "--views", "8", "--val-views", "2", "--num-points", "64",
            "--batch-size", "4", "--epochs", "1", "--model-config", json.dumps(TINY_MODEL),
            "--cache-dir", str(tmp_path / "cache"), "--quiet", "--device", "cpu"]
