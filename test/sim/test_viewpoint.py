import numpy as np
import pytest

from vn_perception.sim import ViewSampling, look_at, sample_viewpoints


def test_look_at_is_an_optical_frame():
    eye, target = np.array([1.0, 0.0, 0.5]), np.zeros(3)
    rotation = look_at(eye, target)
    np.testing.assert_allclose(rotation.T @ rotation, np.eye(3), atol=1e-12)
    assert np.linalg.det(rotation) == pytest.approx(1.0)
    forward, down = rotation[:, 2], rotation[:, 1]
    np.testing.assert_allclose(forward, -eye / np.linalg.norm(eye))           # z looks at the target
    assert down[2] < 0 and abs(rotation[2, 0]) < 1e-12                        # y points down, x stays level


def test_sampled_viewpoints_respect_the_ranges():
    sampling = ViewSampling(arc_deg=40.0, target_jitter_m=0.0)
    target = np.array([0.1, -0.05, 0.04])
    for seed in range(20):
        poses = sample_viewpoints(target, 5, np.random.default_rng(seed), sampling)
        eyes = np.array([eye for _, eye in poses])
        distances = np.linalg.norm(eyes - target, axis=1)
        assert np.all((distances >= 0.6) & (distances <= 1.2)) and np.ptp(distances) < 1e-9
        for rotation, eye in poses:
            look_down_deg = np.degrees(np.arcsin(-rotation[2, 2]))
            assert 30.0 - 1e-9 <= look_down_deg <= 60.0 + 1e-9
        azimuths = np.degrees(np.arctan2(*(eyes - target)[:, [1, 0]].T))
        assert np.degrees(np.ptp(np.unwrap(np.radians(azimuths)))) == pytest.approx(40.0)
