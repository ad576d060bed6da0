"""Fuzzing the scene pipeline (segmentation -> a real ObjectClassifier -> boxes) with hypothesis.

The classifier is a real `ObjectClassifier` around an untrained `build_model(DEFAULT_MODEL_CONFIG)` network
(CPU, 1 thread), so every generated cloud runs the whole path the node runs. Clouds: organized (H, W, 3) and
unorganized (N, 3), float32 / float64, empty, one point, NaN / Inf, huge and tiny coordinates, all points on
a plane or a line, duplicated points, thousands of tiny clusters, and tabletop scenes (a plane with boxes on
it) so that clusters reach the classifier. The default segmentation, one with a wide depth band (so huge
coordinates pass the crop) and one for small objects (40 points) are used.

Each case gives a list of Detections whose every number is finite and consistent (unit quaternion,
orthonormal rotation, probabilities summing to 1, indices of finite input points), or raises ValueError with
a message; never another exception, a hang or a NaN.
"""
import time

import numpy as np
import pytest
import torch
from hypothesis import event, given
from hypothesis import strategies as st

from reliability_helpers import fuzz_settings
from vn_perception.classifier import ObjectClassifier
from vn_perception.models.factory import DEFAULT_MODEL_CONFIG, build_model
from vn_perception.pipeline import ScenePipeline

#: settings (generated clouds in CI); VN_FUZZ_EXAMPLES overrides the count
PIPELINE_CASES = fuzz_settings(800)
#: a case running longer than this counts as a hang (seconds; generous for a loaded 2-core CPU)
HANG_S = 30.0
CLASSES = ["box", "can", "mug"]
_WIDE = {"min_depth_m": 0.0, "max_depth_m": 1e38}
#: small objects: the synthetic boxes (a few hundred points) pass the cluster size filter
_SMALL = {"min_cluster_points": 40}


@pytest.fixture(scope="module")
def pipelines():
    torch.manual_seed(0)
    model = build_model(dict(DEFAULT_MODEL_CONFIG, num_classes=len(CLASSES)))
    classifier = ObjectClassifier(model, CLASSES, ["none", "continuous:z", "none"], num_points=64, device="cpu")
    return {"default": ScenePipeline.from_config(None, classifier=classifier),
            "wide": ScenePipeline.from_config({"segmentation": _WIDE}, classifier=classifier),
            "small": ScenePipeline.from_config({"segmentation": _SMALL}, classifier=classifier)}


def _tabletop(rng, organized, n_boxes):
    """A table seen from 1 m at 45 degrees with `n_boxes` boxes on it (sensor frame, metres); organized:
    the nearest point per pixel of a 160 x 120 pinhole image (NaN where nothing is seen)."""
    density = 20 if organized else 1
    table = np.c_[rng.uniform(-0.4, 0.4, (1500 * density, 2)), np.zeros(1500 * density)]
    parts = [table]
    for _ in range(n_boxes):
        centre = np.r_[rng.uniform(-0.3, 0.3, 2), 0.0]
        size = rng.uniform(0.04, 0.1, 3)
        parts.append(centre + rng.uniform(0, 1, (300 * density, 3)) * size)
    points = np.concatenate(parts)
    c = np.sqrt(0.5)                          # table frame -> sensor frame
    rotation = np.array([[1, 0, 0], [0, c, -c], [0, -c, -c]])
    points = points @ rotation.T + [0, 0, 1.0]
    if not organized:
        return points
    width, height, focal = 160, 120, 150.0
    u = np.round(focal * points[:, 0] / points[:, 2] + width / 2).astype(int)
    v = np.round(focal * points[:, 1] / points[:, 2] + height / 2).astype(int)
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    pixel, depth, points = (v * width + u)[inside], points[inside, 2], points[inside]
    order = np.lexsort((depth, pixel))                  # by pixel, nearest first
    first = order[np.unique(pixel[order], return_index=True)[1]]
    image = np.full((height * width, 3), np.nan)
    image[pixel[first]] = points[first]
    image = image.reshape(height, width, 3)
    return image


@st.composite
def clouds(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    organized = draw(st.booleans())
    kind = draw(st.sampled_from(["tabletop", "tabletop", "gaussian", "empty", "single", "plane", "line",
                                 "duplicates", "tiny_clusters", "constant"]))
    h, w = draw(st.integers(1, 48)), draw(st.integers(1, 64))
    n = h * w if organized else draw(st.integers(0, 4000))
    if kind == "tabletop":
        points = _tabletop(rng, organized, draw(st.integers(0, 5)))
    elif kind == "gaussian":
        points = rng.normal([0, 0, 1], draw(st.sampled_from([1e-6, 0.01, 0.3])), (n, 3))
    elif kind == "empty":
        points = np.empty((0, 3)) if not organized else np.empty((h, 0, 3))
    elif kind == "single":
        points = np.array([[0.0, 0.0, 1.0]]) if not organized else np.full((1, 1, 3), [0.0, 0.0, 1.0])
    elif kind == "plane":
        a, b = rng.uniform(-0.5, 0.5, (2, n, 1))
        points = [0, 0, 1.0] + a * [1, 0, 0.2] + b * [0, 1, 0.3]
    elif kind == "line":
        points = [0, 0, 1.0] + rng.uniform(-0.5, 0.5, (n, 1)) * rng.normal(size=3)
    elif kind == "duplicates":
        base = rng.normal([0, 0, 1], 0.05, (draw(st.integers(1, 40)), 3))
        points = base[rng.integers(0, len(base), n)]
    elif kind == "tiny_clusters":            # points 3 cm apart: every point its own cluster
        side = int(np.ceil(np.sqrt(max(n, 1))))
        grid = np.stack(np.meshgrid(np.arange(side), np.arange(side)), -1).reshape(-1, 2)[:n] * 0.03
        points = np.c_[grid - grid.mean(0), np.ones(len(grid)) + rng.uniform(-0.2, 0.2, len(grid))]
    else:
        points = np.full((n, 3), [0.01, -0.02, 1.0])
    points = np.asarray(points, dtype=np.float64)
    if organized and points.ndim == 2:
        points = points[: h * w].reshape(h, -1, 3) if len(points) >= h * w and h * w else points.reshape(1, -1, 3)
    flat = points.reshape(-1, 3)
    mutate = draw(st.integers(0, 3)) == 0       # a quarter of the clouds: scaled, special values, holes
    if mutate:
        flat *= draw(st.sampled_from([1e-30, 1e-6, 0.1, 1e3, 1e30, 3e38]))
    if flat.size and mutate:
        for value in draw(st.lists(st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e38, -1e38]), max_size=3)):
            flat[rng.integers(0, len(flat)), rng.integers(0, 3)] = value
        if draw(st.booleans()):
            flat[rng.uniform(size=len(flat)) < 0.3] = np.nan                # missing depth
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    with np.errstate(over="ignore", invalid="ignore"):
        points = flat.reshape(points.shape).astype(dtype)
    return points, draw(st.sampled_from(["default", "wide", "small", "small"])), kind


def _check(detections, points):
    flat = np.asarray(points, dtype=np.float64).reshape(-1, 3)
    assert isinstance(detections, list)
    for d in detections:
        numbers = [d.position, d.size, d.rotation, d.orientation_xyzw, d.probabilities, [d.score]]
        assert all(np.isfinite(np.asarray(v, dtype=np.float64)).all() for v in numbers), d
        assert d.label in CLASSES and 0.0 <= d.score <= 1.0
        assert abs(d.probabilities.sum() - 1.0) < 1e-6 and d.score == pytest.approx(d.probabilities.max())
        assert np.allclose(d.rotation @ d.rotation.T, np.eye(3), atol=1e-4)
        assert np.linalg.det(d.rotation) == pytest.approx(1.0, abs=1e-4)
        assert abs(np.linalg.norm(d.orientation_xyzw) - 1.0) < 1e-6
        assert (d.size >= 0).all()
        assert d.point_count == len(d.indices) > 0
        assert d.indices.min() >= 0 and d.indices.max() < len(flat)
        assert np.isfinite(flat[d.indices]).all(), "objects are made of finite input points"


@PIPELINE_CASES
@given(clouds())
def test_any_cloud_gives_finite_detections_or_a_value_error(pipelines, case):
    points, which, kind = case
    pipeline = pipelines[which]
    start = time.monotonic()
    try:
        detections = pipeline.process(points)
    except ValueError as e:
        event(f"{kind}: ValueError")
        assert str(e)
        with np.errstate(invalid="ignore"):
            float32 = np.isnan(points) | (np.abs(points) <= np.finfo(np.float32).max)
        assert not float32.all(), f"a cloud of finite float32 values rejected: {e}"
        return
    assert time.monotonic() - start < HANG_S
    assert not np.isinf(points).any(), "infinite values are rejected (NaN marks a missing point)"
    event(f"{kind}: {'detections' if detections else 'no detection'}")
    _check(detections, points)
    assert all(np.isfinite(v) and v >= 0 for v in pipeline.timings.values())


@pytest.mark.parametrize("organized", [True, False], ids=["organized", "unorganized"])
def test_tabletop_scenes_reach_the_classifier(pipelines, organized):
    """The fuzzer's tabletop clouds do give detections, so the classifier and box stages are exercised."""
    rng = np.random.default_rng(1)
    found = sum(len(pipelines["small"].process(_tabletop(rng, organized, 3))) for _ in range(5))
    assert found >= 5
