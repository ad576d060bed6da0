import hashlib
import json

import numpy as np
import pytest
import trimesh
from scipy import ndimage

from vn_perception.data.camera import DepthNoise, PinholeCamera, render_depth
from vn_perception.data.views import (NeighbourBleed, NoReturnHoles, ViewConfig, neighbour_bleed, no_return_holes,
                                      render_view, sample_points, through_crack_hits)

BOX_EXTENTS = np.array([0.10, 0.06, 0.04])


def _box():
    return trimesh.creation.box(BOX_EXTENTS)


def _in_object_frame(view):
    """Camera-frame points of a view moved back into the mesh frame: R^T (p + centroid - t)."""
    return (view.points.astype(np.float64) + view.centroid - view.translation) @ view.rotation.astype(np.float64)


@pytest.mark.parametrize("protocol", ["z", "so3"])
def test_views_are_deterministic_for_a_seed(protocol):
    config = ViewConfig(protocol=protocol, num_points=128)
    a = render_view(_box(), config, np.random.default_rng(5))
    b = render_view(_box(), config, np.random.default_rng(5))
    c = render_view(_box(), config, np.random.default_rng(6))
    for name in ("points", "centroid", "rotation", "translation"):
        np.testing.assert_array_equal(getattr(a, name), getattr(b, name))
    assert not np.allclose(a.rotation, c.rotation)


@pytest.mark.parametrize("protocol", ["z", "so3"])
def test_views_are_metric_and_labels_map_points_onto_the_mesh(protocol):
    config = ViewConfig(protocol=protocol, num_points=256, noise=DepthNoise.none(), support_cut_prob=0.0,
                        occlusion_prob=0.0)
    rng = np.random.default_rng(0)
    for _ in range(5):
        view = render_view(_box(), config, rng)
        assert view.points.shape == (256, 3) and view.points.dtype == np.float32
        np.testing.assert_allclose(view.points.mean(axis=0), 0.0, atol=0.01)   # centred, no rescaling
        assert 0.45 - 0.07 < np.linalg.norm(view.centroid) < 1.4 + 0.07
        assert np.ptp(view.points, axis=0).max() <= np.linalg.norm(BOX_EXTENTS) + 1e-3
        assert np.ptp(view.points, axis=0).max() >= BOX_EXTENTS.min()
        np.testing.assert_allclose(view.rotation @ view.rotation.T, np.eye(3), atol=1e-5)
        assert np.linalg.det(view.rotation) == pytest.approx(1.0, abs=1e-5)
        # every point lies on a face of the box: one coordinate at +-half extent (float32 rounding at ~1 m)
        gap = np.min(np.abs(np.abs(_in_object_frame(view)) - BOX_EXTENTS / 2), axis=1)
        assert np.max(gap) < 2e-4


def test_z_protocol_keeps_the_object_upright_and_cuts_the_support():
    config = ViewConfig(protocol="z", num_points=256, noise=DepthNoise.none(), support_cut_prob=1.0,
                        support_cut_m=(0.01, 0.01), occlusion_prob=0.0, elevation_deg=(20.0, 50.0))
    view = render_view(_box(), config, np.random.default_rng(1))
    np.testing.assert_allclose(view.rotation[:, 2], view.up, atol=1e-6)     # mesh +z is world up
    elevation = np.degrees(np.arcsin(-view.up[2]))
    assert 20.0 - 1e-3 <= elevation <= 50.0 + 1e-3
    heights = _in_object_frame(view)[:, 2]
    assert heights.min() >= -BOX_EXTENTS[2] / 2 + 0.01 - 1e-4


def test_noise_and_occlusion_keep_points_near_the_surface():
    config = ViewConfig(num_points=256, occlusion_prob=1.0)
    rng = np.random.default_rng(2)
    for _ in range(5):
        view = render_view(_box(), config, rng)
        gap = np.min(np.abs(np.abs(_in_object_frame(view)) - BOX_EXTENTS / 2), axis=1)
        assert np.median(gap) < 0.004


def test_sample_points_counts_and_repeats():
    rng = np.random.default_rng(0)
    points = rng.normal(size=(50, 3))
    few = sample_points(points, 80, rng)
    assert few.shape == (80, 3) and len(np.unique(few, axis=0)) == 50
    many = sample_points(points, 20, rng, farthest_point=True)
    assert len(np.unique(many, axis=0)) == 20


def test_per_view_sensor_variation_is_opt_in():
    from vn_perception.data.views import view_noise
    plain = ViewConfig()
    assert view_noise(plain, np.random.default_rng(0)) == plain.noise
    varied = ViewConfig(noise_scale=(0.5, 2.0), quantisation_subpixel=(0.05, 0.25))
    a, b = view_noise(varied, np.random.default_rng(0)), view_noise(varied, np.random.default_rng(1))
    assert a != b and 0.05 <= a.subpixel <= 0.25
    assert 0.5 * plain.noise.axial_a_m <= a.axial_a_m <= 2.0 * plain.noise.axial_a_m
    assert "noise_scale" not in plain.describe() and "noise_scale" in varied.describe()


def _flat_depth(size=120):
    """A wall at 1 m filling a `[size, size]` image, seen at 40 deg incidence: `(depth, incidence_rad)`."""
    return np.ones((size, size), np.float32), np.full((size, size), np.deg2rad(40.0), np.float32)


def test_no_return_holes_are_seeded_contiguous_blobs_of_the_drawn_size():
    depth, incidence = _flat_depth()
    holes = NoReturnHoles(prob=1.0, count=(2, 2), area_fraction=(0.03, 0.03), aspect=(1.0, 4.0))
    a = no_return_holes(depth, incidence, holes, np.random.default_rng(3))
    b = no_return_holes(depth, incidence, holes, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert np.isfinite(depth).all()                                    # the input is not modified
    removed = ~np.isfinite(a)
    assert 0.01 < removed.mean() <= 0.065                              # 2 x 3 %, less overlap and image border
    assert 1 <= ndimage.label(removed)[1] <= 2                         # blobs, not scattered pixels
    assert np.array_equal(a[~removed], depth[~removed])


def test_no_return_holes_default_fraction_matches_the_real_frames():
    depth, incidence = _flat_depth()
    fractions = [np.mean(~np.isfinite(no_return_holes(depth, incidence, NoReturnHoles(), np.random.default_rng(s))))
                 for s in range(200)]
    assert 0.04 < np.mean(fractions) < 0.12                            # real: 8-11 % of the mask, 57 % in big blobs
    assert np.mean(np.array(fractions) == 0) == pytest.approx(0.2, abs=0.08)   # prob 0.8
    assert max(fractions) < 0.5


def test_no_return_holes_only_remove_pixels_with_depth_and_prefer_steep_incidence():
    depth, incidence = _flat_depth()
    depth[:, :20] = np.nan
    incidence[:, 60:] = np.deg2rad(80.0)                               # right half steep, left half 40 deg
    holes = NoReturnHoles(prob=1.0, count=(1, 1), area_fraction=(0.005, 0.005), incidence_power=8.0)
    centres_right = 0
    for seed in range(40):
        out = no_return_holes(depth, incidence, holes, np.random.default_rng(seed))
        removed = np.isfinite(depth) & ~np.isfinite(out)
        assert np.array_equal(np.isfinite(out) | removed, np.isfinite(depth))
        centres_right += np.nonzero(removed)[1].mean() > 60
    assert centres_right >= 35                                         # weight (80/40)^8 = 256 per pixel


def test_render_view_with_holes_is_seeded_and_loses_points():
    holes_config = ViewConfig(num_points=128, occlusion_prob=0.0, support_cut_prob=0.0,
                              holes=NoReturnHoles(prob=1.0, area_fraction=(0.05, 0.15)))
    plain_config = ViewConfig(num_points=128, occlusion_prob=0.0, support_cut_prob=0.0)
    a = render_view(_box(), holes_config, np.random.default_rng(4))
    b = render_view(_box(), holes_config, np.random.default_rng(4))
    np.testing.assert_array_equal(a.points, b.points)
    plain = render_view(_box(), plain_config, np.random.default_rng(4))
    np.testing.assert_array_equal(a.rotation, plain.rotation)         # same pose: holes come after the render
    assert 0.6 * plain.num_visible < a.num_visible < 0.99 * plain.num_visible


def test_holes_are_off_by_default_and_leave_views_and_cache_keys_unchanged(monkeypatch):
    plain = ViewConfig()
    assert plain.holes is None and "holes" not in plain.describe()
    # the describe() (hence the view-set cache key) of the default config before NoReturnHoles existed
    digest = hashlib.sha1(json.dumps(plain.describe(), sort_keys=True, default=str).encode()).hexdigest()
    assert digest == "534e5570eab89e0627c6559e923c7ca6d8245e5e"
    import vn_perception.data.views as views

    def never(*args):
        raise AssertionError("no_return_holes called with holes off")
    monkeypatch.setattr(views, "no_return_holes", never)
    view = render_view(_box(), ViewConfig(num_points=128), np.random.default_rng(5))
    assert view.num_visible == 2625                                    # the same view as before the option
    assert "holes" in ViewConfig(holes=NoReturnHoles()).describe()
    json.dumps(ViewConfig(holes=NoReturnHoles()).describe())


def _square_depth(size=60, side=20):
    """A `[side, side]` square at 1 m, 40 deg incidence, centred in a `[size, size]` window, NaN around:
    `(depth, incidence_rad)`."""
    depth = np.full((size, size), np.nan, np.float32)
    lo = (size - side) // 2
    depth[lo:lo + side, lo:lo + side] = 1.0
    return depth, np.where(np.isfinite(depth), np.deg2rad(40.0), 0.0).astype(np.float32)


def test_neighbour_bleed_is_seeded_and_adds_the_drawn_share_of_ring_pixels_behind():
    depth, incidence = _square_depth()
    bleed = NeighbourBleed(prob=1.0, fraction=(0.05, 0.05), ring_px=2, behind_m=(0.04, 0.04))
    a = neighbour_bleed(depth, depth, incidence, DepthNoise.none(), bleed, np.random.default_rng(3))
    b = neighbour_bleed(depth, depth, incidence, DepthNoise.none(), bleed, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)
    assert np.isnan(depth).sum() == 60 * 60 - 400                       # the input is not modified
    added = np.isfinite(a) & ~np.isfinite(depth)
    assert added.sum() == 20                                            # 5 % of the 400 silhouette pixels
    np.testing.assert_allclose(a[added], 1.04, atol=1e-6)               # behind_m behind, noise-free sensor
    assert np.array_equal(a[np.isfinite(depth)], depth[np.isfinite(depth)])
    assert ndimage.distance_transform_edt(~np.isfinite(depth))[added].max() <= 2.0
    # the nearest ring pixels first: a 5 % share fits in the first ring around one side
    assert ndimage.distance_transform_edt(~np.isfinite(depth))[added].max() <= 1.5


def test_neighbour_bleed_prob_and_off_side():
    depth, incidence = _square_depth()
    counts = [np.isfinite(neighbour_bleed(depth, depth, incidence, DepthNoise.none(), NeighbourBleed(prob=0.5),
                                          np.random.default_rng(s))).sum() - 400 for s in range(100)]
    assert np.mean(np.array(counts) == 0) == pytest.approx(0.5, abs=0.15)
    assert max(counts) <= 0.08 * 400 + 1
    with pytest.raises(ValueError):
        NeighbourBleed(ring_px=5)                                       # beyond the render window's margin


def test_render_view_with_bleed_is_seeded_and_adds_points_behind_the_object():
    quiet = dict(num_points=128, noise=DepthNoise.none(), occlusion_prob=0.0, support_cut_prob=0.0)
    bleed_config = ViewConfig(**quiet, bleed=NeighbourBleed(prob=1.0, fraction=(0.06, 0.06), behind_m=(0.05, 0.05)))
    for seed in range(3):
        a = render_view(_box(), bleed_config, np.random.default_rng(seed))
        b = render_view(_box(), bleed_config, np.random.default_rng(seed))
        np.testing.assert_array_equal(a.points, b.points)
        plain = render_view(_box(), ViewConfig(**quiet), np.random.default_rng(seed))
        np.testing.assert_array_equal(a.rotation, plain.rotation)     # same pose: bleed comes after the render
        extra = a.num_visible - plain.num_visible
        assert 0.05 * plain.num_visible <= extra <= 0.065 * plain.num_visible
        # the extra points are off the box, farther from the camera than the object's front
        camera_points = a.points.astype(np.float64) + a.centroid
        gap = np.min(np.abs(np.abs(_in_object_frame(a)) - BOX_EXTENTS / 2), axis=1)
        off = gap > 1e-3
        assert off.any()
        on_depth = camera_points[~off, 2]
        assert np.all(camera_points[off, 2] > on_depth.min())


def test_bleed_is_off_by_default_and_leaves_views_and_cache_keys_unchanged(monkeypatch):
    plain = ViewConfig()
    assert plain.bleed is None and "bleed" not in plain.describe()
    digest = hashlib.sha1(json.dumps(plain.describe(), sort_keys=True, default=str).encode()).hexdigest()
    assert digest == "534e5570eab89e0627c6559e923c7ca6d8245e5e"        # as before NoReturnHoles and NeighbourBleed
    import vn_perception.data.views as views

    def never(*args):
        raise AssertionError("neighbour_bleed called with bleed off")
    monkeypatch.setattr(views, "neighbour_bleed", never)
    view = render_view(_box(), ViewConfig(num_points=128), np.random.default_rng(5))
    assert view.num_visible == 2625                                    # the same view as before the option
    described = ViewConfig(bleed=NeighbourBleed()).describe()
    assert described["bleed"]["fraction"] == [0.02, 0.08]
    json.dumps(described)


def _quad(x0, x1, y0, y1, z, towards_camera):
    """A rectangle at depth `z` (camera frame), its normal towards the camera (-z) or away from it."""
    vertices = np.array([[x0, y0, z], [x1, y0, z], [x1, y1, z], [x0, y1, z]])
    faces = np.array([[0, 2, 1], [0, 3, 2]]) if towards_camera else np.array([[0, 1, 2], [0, 2, 3]])
    mesh = trimesh.Trimesh(vertices, faces, process=False)
    assert np.sign(mesh.face_normals[0, 2]) == (-1 if towards_camera else 1)
    return mesh


def _slit_scene(far_towards_camera):
    """A front wall at 1 m with a 6 mm slit (~3 px at 525 px) and a wall 5 cm behind it: depth, crack mask."""
    camera = PinholeCamera.kinect()
    front = [_quad(-0.1, -0.003, -0.1, 0.1, 1.0, True), _quad(0.003, 0.1, -0.1, 0.1, 1.0, True)]
    mesh = trimesh.util.concatenate(front + [_quad(-0.1, 0.1, -0.1, 0.1, 1.05, far_towards_camera)])
    roi = (280, 200, 360, 280)
    depth = render_depth([mesh], camera, roi).depth
    return depth, through_crack_hits(mesh, camera, roi, depth)


def test_through_crack_hits_are_the_inside_of_the_far_wall_seen_through_a_slit():
    depth, crack = _slit_scene(far_towards_camera=False)
    seen_through = depth > 1.04
    assert 80 <= seen_through.sum() and np.array_equal(crack, seen_through)
    depth, crack = _slit_scene(far_towards_camera=True)       # a real surface behind a gap: kept
    assert (depth > 1.04).sum() >= 80 and not crack.any()


def test_render_view_without_crack_hits_on_a_cracked_box():
    box = trimesh.creation.box(BOX_EXTENTS).subdivide().subdivide().subdivide()
    cracked = trimesh.Trimesh(box.vertices, box.faces[np.abs(box.triangles_center[:, 0]) > 0.005], process=False)
    quiet = dict(num_points=128, noise=DepthNoise.none(), occlusion_prob=0.0, support_cut_prob=0.0)
    lost = []
    for seed in range(4):
        plain = render_view(cracked, ViewConfig(**quiet), np.random.default_rng(seed))
        clean = render_view(cracked, ViewConfig(**quiet, drop_crack_hits=True), np.random.default_rng(seed))
        np.testing.assert_array_equal(plain.rotation, clean.rotation)
        lost.append(plain.num_visible - clean.num_visible)
        assert 0 <= lost[-1] < 0.1 * plain.num_visible
    assert max(lost) > 0
    whole = [render_view(_box(), ViewConfig(**quiet, drop_crack_hits=True), np.random.default_rng(s)).num_visible
             for s in range(4)]
    assert whole == [render_view(_box(), ViewConfig(**quiet), np.random.default_rng(s)).num_visible for s in range(4)]


def test_drop_crack_hits_is_off_by_default_and_leaves_views_and_cache_keys_unchanged(monkeypatch):
    plain = ViewConfig()
    assert not plain.drop_crack_hits and "drop_crack_hits" not in plain.describe()
    import vn_perception.data.views as views

    def never(*args):
        raise AssertionError("through_crack_hits called with drop_crack_hits off")
    monkeypatch.setattr(views, "through_crack_hits", never)
    assert render_view(_box(), ViewConfig(num_points=128), np.random.default_rng(5)).num_visible == 2625
    assert ViewConfig(drop_crack_hits=True).describe()["drop_crack_hits"] is True
