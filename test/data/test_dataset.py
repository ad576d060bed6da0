import numpy as np
import pytest

from vn_perception.data.catalog import load_catalog
from vn_perception.data.dataset import ARRAY_KEYS, ViewDataset, _render_part, make_view_set, set_key, subsample
from vn_perception.data.views import ViewConfig

CONFIG = ViewConfig(num_points=64)


def _same(a, b):
    for key in ARRAY_KEYS:
        np.testing.assert_array_equal(a[key], b[key])


def test_view_set_cached_resumed_and_process_independent(primitive_folder, tmp_path):
    catalog = load_catalog(primitive_folder)
    first = make_view_set(catalog, CONFIG, 3, seed=1, cache_dir=tmp_path / "a", progress=False)
    assert first["points"].shape == (6, 64, 3) and list(first["label"]) == [0, 0, 0, 1, 1, 1]
    assert len(list((tmp_path / "a").glob("*.npz"))) == 1
    _same(first, make_view_set(catalog, CONFIG, 3, seed=1, cache_dir=tmp_path / "a", progress=False))
    # an interrupted run left object 0 on disk: the rest is rendered, the result is the same
    key = set_key(catalog, CONFIG, 3, 1, "train")
    parts = tmp_path / "b" / f"train_so3_{key}.parts"
    parts.mkdir(parents=True)
    _render_part((catalog, 0, CONFIG, 3, 1, "train", parts / "object_0000.npz"))
    _same(first, make_view_set(catalog, CONFIG, 3, seed=1, cache_dir=tmp_path / "b", progress=False))
    assert not parts.exists()
    _same(first, make_view_set(catalog, CONFIG, 3, seed=1, cache_dir=tmp_path / "c", workers=2, progress=False))
    other = make_view_set(catalog, CONFIG, 3, seed=1, split="val", cache_dir=tmp_path / "a", progress=False)
    assert not np.allclose(other["rotation"], first["rotation"])


@pytest.mark.parametrize("rotate", ["so3", "z"])
def test_augmentation_turns_points_and_labels_together(primitive_folder, tmp_path, rotate):
    config = ViewConfig(protocol="so3" if rotate == "so3" else "z", num_points=64)
    arrays = make_view_set(load_catalog(primitive_folder), config, 2, cache_dir=tmp_path, progress=False)
    plain = ViewDataset(arrays)
    turned = ViewDataset(arrays, rotate=rotate, seed=3)
    for i in range(len(plain)):
        a, b = plain[i], turned[i]
        assert not np.allclose(a["rotation"], b["rotation"])
        # object-frame coordinates R^T p are unchanged by the augmentation
        np.testing.assert_allclose(a["points"] @ a["rotation"], b["points"] @ b["rotation"], atol=1e-5)
        if rotate == "z":  # upright stays upright: the object's +z keeps pointing along the view's up
            np.testing.assert_allclose(b["rotation"][:, 2].numpy(), arrays["up"][i], atol=1e-5)


def test_augmentation_is_seeded_per_epoch(primitive_folder, tmp_path):
    arrays = make_view_set(load_catalog(primitive_folder), CONFIG, 2, cache_dir=tmp_path, progress=False)
    data = ViewDataset(arrays, rotate="so3", jitter_m=0.001, dropout_max=0.5, seed=0)
    first = data[1]["points"]
    np.testing.assert_array_equal(first, data[1]["points"])
    data.set_epoch(1)
    assert not np.allclose(first, data[1]["points"])
    assert data[1]["points"].shape == (64, 3)


def test_point_subsets(primitive_folder, tmp_path):
    arrays = make_view_set(load_catalog(primitive_folder), CONFIG, 2, cache_dir=tmp_path, progress=False)
    data = ViewDataset(arrays, num_points=16)
    item = data[0]["points"].numpy()
    assert item.shape == (16, 3)
    stored = {tuple(p) for p in arrays["points"][0]}
    assert all(tuple(p) in stored for p in item)                 # a subset of the view's own points
    fixed = subsample(arrays["points"], 16, seed=1)
    assert fixed.shape == (len(arrays["label"]), 16, 3)
    np.testing.assert_array_equal(fixed, subsample(arrays["points"], 16, seed=1))
    with pytest.raises(ValueError, match="stored points"):
        ViewDataset(arrays, num_points=65)


def test_two_writers_of_the_same_view_set_agree(primitive_folder, tmp_path):
    """Two trainings asking for the same views at once (here two threads) both get the whole set, equal to a
    single writer's; neither trips over the other's temporary files."""
    from concurrent.futures import ThreadPoolExecutor
    catalog = load_catalog(primitive_folder)
    single = make_view_set(catalog, CONFIG, 3, seed=2, cache_dir=tmp_path / "single", progress=False)
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: make_view_set(catalog, CONFIG, 3, seed=2, cache_dir=tmp_path / "shared",
                                                        progress=False), range(2)))
    for result in results:
        _same(single, result)
    assert (tmp_path / "shared" / f"train_so3_{set_key(catalog, CONFIG, 3, 2, 'train')}.npz").is_file()
    assert not list((tmp_path / "shared").rglob("*.tmp.npz"))               # no temporary file left behind
