import pytest

from vn_perception.data.catalog import CatalogError, load_catalog
from vn_perception.data.ycbv import YCBV_SYMMETRIES


def test_user_folder_with_yaml_labels(primitive_folder):
    catalog = load_catalog(primitive_folder)
    assert catalog.classes == ["block", "can"]
    assert [e.symmetry for e in catalog.entries] == ["discrete:z:2", "none"]
    assert catalog.label_index(catalog.entries[1]) == 1
    mesh = catalog.entries[0].load_mesh()
    assert mesh.extents == pytest.approx([0.10, 0.06, 0.04])


def test_user_folder_csv_and_no_labels(primitive_folder):
    (primitive_folder / "labels.yaml").unlink()
    assert load_catalog(primitive_folder).classes == ["box", "can"]  # file stems
    (primitive_folder / "labels.csv").write_text("file,class,symmetry\ncan.stl,cylinder,continuous:z\n")
    catalog = load_catalog(primitive_folder)
    assert catalog.classes == ["cylinder"] and catalog.class_symmetries == ["continuous:z"]


def test_bad_catalogs_name_the_path(primitive_folder, tmp_path):
    with pytest.raises(CatalogError, match="not found"):
        load_catalog(tmp_path / "nowhere")
    (primitive_folder / "labels.yaml").write_text("missing.ply: thing\n")
    with pytest.raises(CatalogError, match="missing.ply"):
        load_catalog(primitive_folder)


def test_fingerprint_follows_mesh_contents(primitive_folder):
    before = load_catalog(primitive_folder).fingerprint()
    assert load_catalog(primitive_folder).fingerprint() == before
    (primitive_folder / "box.ply").write_bytes((primitive_folder / "can.stl").read_bytes())
    assert load_catalog(primitive_folder).fingerprint() != before


def test_shared_catalog_ycbv(shared_catalog_dir):
    catalog = load_catalog(shared_catalog_dir, source="ycbv")
    assert len(catalog) == 21 and len(catalog.classes) == 21
    assert set(catalog.classes) == set(YCBV_SYMMETRIES)
    assert "CC BY 4.0" in catalog.licence
    assert all(e.mesh_path.is_file() for e in catalog.entries)
    categories = load_catalog(shared_catalog_dir, source="ycbv", level="category")
    assert "can" in categories.classes and len(categories.classes) < 21


def test_shared_catalog_merges_near_duplicates(shared_catalog_dir):
    catalog = load_catalog(shared_catalog_dir, source="ocrtoc")
    labels = {e.name: e.label for e in catalog.entries}
    assert labels["blue_marker"] == labels["black_marker"] == labels["red_marker"]
    unmerged = load_catalog(shared_catalog_dir, source="ocrtoc", merge_duplicates=False)
    assert len(unmerged.classes) > len(catalog.classes)
