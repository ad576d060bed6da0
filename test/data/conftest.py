"""Fixtures of the data tests: a tiny user catalog of trimesh primitives, the shared data folder."""
from pathlib import Path

import pytest
import trimesh

SHARED_DATA = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"


@pytest.fixture
def primitive_folder(tmp_path):
    """A folder with a box (10 x 6 x 4 cm), a cylinder (r 3 cm, h 12 cm) and a labels.yaml."""
    trimesh.creation.box((0.10, 0.06, 0.04)).export(tmp_path / "box.ply")
    trimesh.creation.cylinder(radius=0.03, height=0.12, sections=48).export(tmp_path / "can.stl")
    (tmp_path / "labels.yaml").write_text('box.ply: {class: block, symmetry: "discrete:z:2"}\ncan.stl: can\n')
    return tmp_path


@pytest.fixture
def shared_catalog_dir():
    folder = SHARED_DATA / "catalog"
    if not (folder / "catalog.csv").is_file():
        pytest.skip(f"shared catalog not found at {folder}")
    return folder
