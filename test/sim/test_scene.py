"""Simulated frames: organized clouds whose object points lie where the ground truth says, deterministic."""
import dataclasses

import numpy as np

from vn_perception.data.camera import DepthNoise
from vn_perception.sim import SimulationConfig, render_poses, simulate

TINY = SimulationConfig(scenes=1, frames_per_scene=2, objects_per_scene=(3, 3), seed=11)
#: depth agreement between the noisy cloud and a noise-free render of the ground truth (metres, ~3 sigma at 1 m)
DEPTH_TOLERANCE_M = 0.01


def test_ground_truth_explains_the_cloud(primitive_models):
    meshes = {m.label: m.mesh for m in primitive_models}
    frames = list(simulate(primitive_models, TINY))
    assert [f.frame_index for f in frames] == [0, 1]
    for frame in frames:
        assert frame.points.shape == (480, 640, 3) and frame.points.dtype == np.float32
        assert np.isnan(frame.points).any() and np.isfinite(frame.points).any()
        assert len(frame.ground_truth) == 3 and {o.label for o in frame.ground_truth} <= set(meshes)
        truth = render_poses(frame.ground_truth, meshes, TINY.camera)
        covered = (truth.instance >= 0) & np.isfinite(frame.points[..., 2])
        assert covered.sum() > 1000
        agree = np.abs(frame.points[..., 2][covered] - truth.depth[covered]) < DEPTH_TOLERANCE_M
        assert agree.mean() > 0.97
        # every object pixel of the simulator belongs to the object the ground truth puts there
        object_pixels = frame.instance > 0
        assert np.all(truth.instance[object_pixels] >= 0)
        for obj in frame.ground_truth:
            np.testing.assert_allclose(obj.size, meshes[obj.label].extents)


def test_same_seed_same_frames_and_noise_free_option(primitive_models):
    first, second = (list(simulate(primitive_models, TINY)) for _ in range(2))
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a.points, b.points)
        assert [o.id for o in a.ground_truth] == [o.id for o in b.ground_truth]
    exact = next(simulate(primitive_models, dataclasses.replace(TINY, noise=DepthNoise.none())))
    truth = render_poses(exact.ground_truth, {m.label: m.mesh for m in primitive_models}, TINY.camera)
    object_pixels = exact.instance > 0
    np.testing.assert_allclose(exact.points[..., 2][object_pixels], truth.depth[object_pixels], atol=1e-5)
    assert exact.stamp_ns == first[0].stamp_ns and first[1].stamp_ns - first[0].stamp_ns == 1e9 / TINY.fps
