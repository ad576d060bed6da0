"""perception.segmentation on synthetic tabletops (ray cast in the test) and its input checks."""
import numpy as np
import pytest

from vn_perception.perception import SegmentationConfig, segment_objects
from vn_perception.perception.metrics import iou_matrix
from vn_perception.perception.synthetic import Shape, tabletop_scene

SHAPES = [Shape("box", (0.08, 0.06, 0.12), (-0.15, 0.0)),
          Shape("cylinder", (0.04, 0.10), (0.05, 0.05)),
          Shape("box", (0.05, 0.05, 0.08), (0.2, -0.1), 0.5)]
#: the lowest min_height_m of every object is cut with the table, so a cluster covers slightly less than
#: the object's pixels
MIN_IOU = 0.85


@pytest.fixture(scope="module")
def scene():
    return tabletop_scene(SHAPES, depth_noise_m=0.001, rng=np.random.default_rng(3))


def _assert_one_cluster_per_object(cluster_indices, instance):
    ious = iou_matrix(cluster_indices, instance.reshape(-1))
    assert ious.shape == (len(SHAPES), len(SHAPES))
    assert (ious.max(axis=0) >= MIN_IOU).all(), ious                 # every object found
    assert (ious.max(axis=1) >= MIN_IOU).all(), ious                 # every cluster is an object


def test_organized_tabletop(scene):
    result = segment_objects(scene.points)
    assert abs(result.plane.normal @ scene.normal) > 0.999            # normal turned towards the camera
    assert result.plane.offset == pytest.approx(scene.offset, abs=0.005)
    _assert_one_cluster_per_object([c.indices for c in result], scene.instance)
    flat = scene.points.reshape(-1, 3)
    for cluster in result:
        np.testing.assert_array_equal(cluster.points, flat[cluster.indices])
    assert set(result.timings) == {"crop", "plane", "cluster", "filter", "total"}
    assert [len(c) for c in result] == sorted((len(c) for c in result), reverse=True)


def test_unorganized_tabletop_indices_address_the_input(scene):
    flat = scene.points.reshape(-1, 3)
    rng = np.random.default_rng(0)
    order = rng.permutation(np.flatnonzero(np.isfinite(flat[:, 2])))  # shuffled, NaN dropped
    result = segment_objects(flat[order])
    _assert_one_cluster_per_object([order[c.indices] for c in result], scene.instance)


def test_touching_objects_split_at_the_concave_crease():
    low, tall = Shape("box", (0.10, 0.06, 0.05), (0.0, -0.03)), Shape("box", (0.10, 0.06, 0.14), (0.0, 0.03))
    touching = tabletop_scene([low, tall], depth_noise_m=0.001)
    assert len(segment_objects(touching.points, SegmentationConfig(concavity_cut=0))) == 1
    split = segment_objects(touching.points)
    assert len(split) == 2
    # the 5 cm box loses its lowest centimetre to the table band and a cell-wide strip at the crease
    assert (iou_matrix([c.indices for c in split], touching.instance.reshape(-1)).max(axis=0) >= 0.7).all()


def test_size_and_extent_limits(scene):
    assert len(segment_objects(scene.points, SegmentationConfig(min_cluster_points=100_000))) == 0
    assert len(segment_objects(scene.points, SegmentationConfig(max_extent_m=0.11))) == 1   # the 8 cm box only


def test_outlier_removal_keeps_objects(scene):
    result = segment_objects(scene.points, SegmentationConfig(outlier_std_ratio=2.0))
    _assert_one_cluster_per_object([c.indices for c in result], scene.instance)


@pytest.mark.parametrize("points", [np.zeros((0, 3)), np.full((48, 64, 3), np.nan), np.full((5, 3), np.nan)])
def test_empty_inputs_give_no_clusters(points):
    result = segment_objects(points)
    assert len(result) == 0 and result.plane is None and "total" in result.timings


@pytest.mark.parametrize("points, message", [
    (np.zeros((4, 2)), "shape"), (np.zeros((2, 2, 2, 3)), "shape"),
    (np.array([[0.0, 0.0, np.inf]] * 4), "infinite"), (np.array([["a", "b", "c"]]), "real-valued")])
def test_bad_input_raises_value_error(points, message):
    with pytest.raises(ValueError, match=message):
        segment_objects(points)


def test_config_from_dict_and_validation():
    assert SegmentationConfig.from_dict(None) == SegmentationConfig()
    assert SegmentationConfig.from_dict({"voxel_size_m": 0.01}).voxel_size_m == 0.01
    with pytest.raises(ValueError, match="unknown segmentation setting"):
        SegmentationConfig.from_dict({"voxel": 0.01})
    with pytest.raises(ValueError, match="voxel_size_m must be > 0"):
        SegmentationConfig(voxel_size_m=0)
    with pytest.raises(ValueError, match="min_depth_m must be < max_depth_m"):
        SegmentationConfig(min_depth_m=3.0)
    with pytest.raises(ValueError, match="go together"):
        SegmentationConfig(crop_box_min_m=(0, 0, 0))
    boxed = SegmentationConfig(crop_box_min_m=[-1, -1, 0], crop_box_max_m=[1, 1, 0.5])
    assert SegmentationConfig.from_dict(boxed.to_dict()) == boxed


def test_crop_box_removes_everything_outside(scene):
    assert len(segment_objects(scene.points, SegmentationConfig(crop_box_min_m=(-2, -2, 0),
                                                                crop_box_max_m=(2, 2, 0.3)))) == 0
