"""perception.plane: vectorised RANSAC with SVD refit, support polygon."""
import numpy as np

from vn_perception.perception.plane import Plane, SupportPolygon, fit_plane_svd, plane_axes, ransac_plane


def _noisy_plane(rng, normal, offset, count, noise_m):
    axes = plane_axes(normal)
    uv = rng.uniform(-0.5, 0.5, (count, 2))
    return uv @ axes - offset * normal + rng.normal(0, noise_m, (count, 1)) * normal


def test_ransac_finds_the_dominant_plane_among_outliers():
    rng = np.random.default_rng(0)
    normal = np.array([0.1, -0.7, -0.6]) / np.linalg.norm([0.1, -0.7, -0.6])
    points = np.concatenate([_noisy_plane(rng, normal, 0.8, 2000, 0.002), rng.uniform(-1, 1, (800, 3))])
    plane = ransac_plane(points, 0.01, 100, rng)
    assert abs(plane.normal @ normal) > 0.9995
    assert abs(abs(plane.offset) - 0.8) < 0.003
    assert 0.7 < plane.inlier_fraction < 0.75                           # 2000 of 2800 (+ outliers near it)


def test_degenerate_inputs():
    rng = np.random.default_rng(1)
    assert ransac_plane(np.zeros((2, 3)), 0.01, 10, rng) is None
    assert ransac_plane(np.zeros((50, 3)), 0.01, 10, rng) is None      # all triples collinear


def test_svd_fit_facing_and_signed_distance():
    rng = np.random.default_rng(2)
    normal = np.array([0.0, 0.0, 1.0])
    plane = fit_plane_svd(_noisy_plane(rng, normal, -1.0, 100, 0.0))   # z = 1
    towards_origin = plane.facing(np.zeros(3))
    assert towards_origin.signed_distance(np.zeros((1, 3)))[0] > 0
    assert towards_origin.signed_distance(np.array([[0.0, 0.0, 0.5]]))[0] == np.float64(0.5).item()


def test_support_polygon_contains():
    plane = Plane(np.array([0.0, 0.0, 1.0]), 0.0)
    square = np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], dtype=float)
    polygon = SupportPolygon.from_points(plane, square)
    inside = polygon.contains(np.array([[0.5, 0.5, 0.3], [1.5, 0.5, 0.0], [1.05, 0.5, 0.0]]), margin_m=0.1)
    np.testing.assert_array_equal(inside, [True, False, True])
    assert SupportPolygon.from_points(plane, square[:2]) is None
