"""Real frames in the YCB-Video layout: organized clouds, visible ground-truth objects, the two centre conventions."""
import numpy as np
import pytest

from vn_perception.data.paths import real_dev_file
from vn_perception.evaluation.real_frames import load_real_frames

FRAMES = [0, 20]


@pytest.fixture(scope="module")
def real_file():
    path = real_dev_file()
    if not path.is_file():
        pytest.skip(f"real frames not found at {path} (the shared data folder)")
    return path


def test_frames_masks_and_centres(real_file):
    by_mask = list(load_real_frames(real_file, FRAMES, centre="mask", min_visible_pixels=200))
    by_pose = list(load_real_frames(real_file, FRAMES, centre="pose", min_visible_pixels=200))
    with np.load(real_file) as data:
        for f, mask_frame, pose_frame in zip(FRAMES, by_mask, by_pose):
            assert mask_frame.points.shape == (480, 640, 3)
            no_depth = data["depth"][f] == 0
            assert np.isnan(mask_frame.points[no_depth]).all() and np.isfinite(mask_frame.points[~no_depth]).all()
            visible = [c for c in data["cls_indexes"][f] if c > 0
                       and ((data["label"][f] == c) & ~no_depth).sum() >= 200]
            names = [str(data["class_names"][c - 1]) for c in visible]
            assert [o.label for o in mask_frame.ground_truth] == names == [o.label for o in pose_frame.ground_truth]
            for k, (a, b) in enumerate(zip(mask_frame.ground_truth, pose_frame.ground_truth)):
                slot = int(b.id.removeprefix("slot"))
                np.testing.assert_allclose(b.position, data["poses"][f, slot, :, 3], atol=1e-6)
                np.testing.assert_allclose(a.rotation, b.rotation)
                # the visible surface lies on the camera side of the object, a few cm from its origin
                assert np.linalg.norm(a.position - b.position) < 0.08 and a.position[2] < b.position[2] + 0.01
                np.testing.assert_allclose(
                    a.position, np.median(mask_frame.points[mask_frame.instance == k + 1], axis=0), atol=1e-6)


def test_unknown_centre_is_refused(real_file):
    with pytest.raises(ValueError, match="centre"):
        next(load_real_frames(real_file, [0], centre="bbox"))
