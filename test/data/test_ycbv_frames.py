"""The reader of YCB-Video-layout real frames, on the shared dev frames."""
import numpy as np
import pytest
import trimesh

from vn_perception.data.paths import real_dev_file, shared_catalog_dir
from vn_perception.data.ycbv_frames import count_frames, read_ycbv_frames, visibility

REAL_DEV = real_dev_file()


@pytest.fixture
def real_dev():
    if not REAL_DEV.is_file():
        pytest.skip(f"real frames not found at {REAL_DEV}")
    return REAL_DEV


def test_frames_clouds_and_objects(real_dev):
    assert count_frames(real_dev) == 60
    frames = list(read_ycbv_frames(real_dev, frames=[0, 25]))
    assert [f.index for f in frames] == [0, 25]
    for frame in frames:
        assert frame.points.shape == frame.depth.shape + (3,) == (480, 640, 3)
        valid = frame.depth > 0
        assert np.isfinite(frame.points[valid]).all() and np.isnan(frame.points[~valid]).all()
        np.testing.assert_allclose(frame.points[valid][:, 2], frame.depth[valid], rtol=1e-6)
        assert frame.objects and all(o.mask.shape == frame.depth.shape for o in frame.objects)
        for obj in frame.objects:
            assert not (obj.mask & ~valid).any()
            np.testing.assert_allclose(obj.rotation @ obj.rotation.T, np.eye(3), atol=1e-5)
            # the object's depth pixels lie near its pose: the translation is inside the object, < 0.2 m away
            if obj.mask.sum() > 200:
                assert np.linalg.norm(np.median(frame.points[obj.mask], axis=0) - obj.translation) < 0.2


def test_visibility_of_a_visible_object(real_dev):
    frame = next(read_ycbv_frames(real_dev, frames=[0]))
    obj = max(frame.objects, key=lambda o: o.mask.sum())
    mesh = trimesh.load(shared_catalog_dir() / "meshes" / "ycbv" / f"{obj.name}.ply", force="mesh")
    seen = visibility(obj, frame.camera, mesh)
    assert 0.3 < seen <= 1.2    # mask pixels with depth over the rendered silhouette (masks bleed a little)
