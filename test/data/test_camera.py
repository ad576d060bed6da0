import numpy as np
import trimesh

from vn_perception.data.camera import DepthNoise, PinholeCamera, posed, render_depth


def _plane(z):
    """A 2 m x 2 m square facing the camera at depth z."""
    return trimesh.Trimesh(vertices=[[-1, -1, z], [1, -1, z], [1, 1, z], [-1, 1, z]], faces=[[0, 1, 2], [0, 2, 3]])


def test_plane_depth_and_back_projection():
    cam = PinholeCamera.d435()
    result = render_depth([_plane(0.8)], cam)
    assert np.isfinite(result.depth).all()
    np.testing.assert_allclose(result.depth, 0.8, atol=1e-6)
    points = cam.back_project(result.depth)
    assert points.shape == (480, 640, 3)
    np.testing.assert_allclose(points[..., 2], 0.8, atol=1e-6)
    # the principal point looks straight ahead; the corner ray leaves at the pinhole angle
    np.testing.assert_allclose(points[0, 0, :2], [(0 - cam.cx) / cam.fx * 0.8, (0 - cam.cy) / cam.fy * 0.8], atol=1e-6)
    np.testing.assert_allclose(cam.project(points.reshape(-1, 3))[:3], [[0, 0], [1, 0], [2, 0]], atol=1e-4)


def test_nearest_hit_and_instance_ids():
    cam = PinholeCamera(64, 48, 60.0, 60.0, 31.5, 23.5)
    near = trimesh.creation.box((0.1, 0.1, 0.1))
    result = render_depth([_plane(1.0), posed(near, np.eye(3), [0, 0, 0.5])], cam)
    centre = result.instance[24, 32]
    assert centre == 1 and abs(result.depth[24, 32] - 0.45) < 1e-6
    assert result.instance[0, 0] == 0 and abs(result.depth[0, 0] - 1.0) < 1e-6


def test_roi_matches_full_render():
    cam = PinholeCamera.d435()
    box = posed(trimesh.creation.box((0.1, 0.2, 0.05)), np.eye(3), [0.02, -0.03, 0.7])
    full = render_depth([box], cam)
    roi = cam.roi_of(box.vertices)
    part = render_depth([box], cam, roi)
    u0, v0, u1, v1 = roi
    np.testing.assert_array_equal(np.isfinite(full.depth[v0:v1, u0:u1]), np.isfinite(part.depth))
    assert np.isfinite(full.depth).sum() == np.isfinite(part.depth).sum()


def test_noise_grows_with_distance_and_is_seeded():
    cam = PinholeCamera.d435()
    noise = DepthNoise(random_dropout=0.0, edge_dropout=0.0)
    spreads = []
    for z in (0.5, 1.5):
        depth = np.full((200, 200), z, dtype=np.float32)
        noisy = noise.apply(depth, np.zeros_like(depth), cam.fx, np.random.default_rng(3))
        again = noise.apply(depth, np.zeros_like(depth), cam.fx, np.random.default_rng(3))
        np.testing.assert_array_equal(noisy, again)
        spreads.append(np.nanstd(noisy - z))
    assert spreads[1] > 2 * spreads[0] > 0


def test_grazing_incidence_loses_returns_and_perfect_sensor_keeps_all():
    cam = PinholeCamera.d435()
    depth = np.full((100, 100), 1.0, dtype=np.float32)
    grazing = np.full_like(depth, np.deg2rad(88.0))
    assert np.isnan(DepthNoise().apply(depth, grazing, cam.fx, np.random.default_rng(0))).all()
    exact = DepthNoise.none().apply(depth, grazing, cam.fx, np.random.default_rng(0))
    np.testing.assert_array_equal(exact, depth)
