"""ScenePipeline: one cloud in, detected objects out (ROS-free).

    from vn_perception.pipeline import ScenePipeline
    pipe = ScenePipeline.from_config(None)     # packaged assets/pipeline.yaml, default model
    dets = pipe.process(points)                # (H, W, 3) or (N, 3) metres, sensor frame, NaN allowed
    dets[0].label, dets[0].position, dets[0].orientation_xyzw, dets[0].size
    pipe.timings                               # seconds per stage of the last call (cpu_timings: CPU seconds)

Stages: `perception.segmentation.segment_objects` (crop, plane, cluster, filter) -> a random subset of
`num_points` points per object -> ONE `ObjectClassifier.predict` call for all objects of the frame ->
(optional, `pose_refinement.catalog`: the class mesh aligned to each object by ICP from the network's
rotation hypotheses, `perception.mesh_pose`) -> oriented boxes in the predicted object frames.
"""
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial.transform import Rotation

from vn_perception.perception.segmentation import SegmentationConfig, segment_objects
from vn_perception.perception.timing import StageClock

__all__ = ["Detection", "ScenePipeline", "load_pipeline_config", "with_mesh_refinement", "DEFAULT_CONFIG_PATH"]

#: the packaged default configuration
DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "assets" / "pipeline.yaml"
#: sections merged per sub-key (the others are replaced whole)
_SECTIONS = ("segmentation", "classifier", "pose_refinement")
_TOP_LEVEL_KEYS = {"segmentation", "classifier", "pose_refinement", "min_score", "max_objects", "num_points"}
#: seed of the per-frame point subsets (a frame's detections do not depend on earlier frames)
SAMPLING_SEED = 0


@dataclass
class Detection:
    """One object in the sensor frame.

    label: class name; score: its probability; position (3,) m: centre of the oriented box;
    rotation (3, 3): object -> sensor (the classifier's orientation); orientation_xyzw (4,): the same
    rotation as a quaternion (x, y, z, w); size (3,) m: box extents along the object axes (max - min of the
    points in the object frame); point_count: points of the object; indices (point_count,) into the
    flattened input cloud; probabilities (K,): the class probabilities over `classifier.classes` (for top-k
    hypotheses). With pose refinement (a mesh catalog): translation (3,) m, the origin of the class mesh in the
    sensor frame (with `rotation`, the pose of the mesh frame: where grasps defined on the mesh go), and
    fit_rms_m, the fit's RMS distance; None without.
    """
    label: str
    score: float
    position: np.ndarray
    orientation_xyzw: np.ndarray
    rotation: np.ndarray
    size: np.ndarray
    point_count: int
    indices: np.ndarray
    probabilities: np.ndarray = None
    translation: np.ndarray = None
    fit_rms_m: float = None


def _read_yaml(path):
    import yaml
    path = Path(path)
    try:
        with open(path, encoding="utf-8") as f:
            values = yaml.safe_load(f) or {}
    except OSError as e:
        raise FileNotFoundError(f"cannot read pipeline config {path}: {e.strerror}") from e
    if not isinstance(values, dict):
        raise ValueError(f"pipeline config {path} must hold a mapping, got {type(values).__name__}")
    return values


def load_pipeline_config(config=None):
    """The pipeline configuration as a dict: the packaged defaults with `config` merged over them.

    config: None | path to a YAML file | dict. `segmentation`, `classifier` and `pose_refinement` merge per
    sub-key; unknown top-level keys raise ValueError.
    """
    merged = _read_yaml(DEFAULT_CONFIG_PATH)
    if config is None:
        return merged
    overrides = dict(config) if isinstance(config, dict) else _read_yaml(config)
    unknown = sorted(set(overrides) - _TOP_LEVEL_KEYS)
    if unknown:
        raise ValueError(f"unknown pipeline setting(s) {unknown}; known: {sorted(_TOP_LEVEL_KEYS)}")
    for key, value in overrides.items():
        if key in _SECTIONS:
            merged[key] = {**(merged.get(key) or {}), **(value or {})}
        else:
            merged[key] = value
    return merged


def with_mesh_refinement(classifier, settings):
    """`classifier` wrapped in a `MeshRefinedClassifier` when `settings` (the `pose_refinement` section) names
    a mesh `catalog`; unchanged otherwise (or when already wrapped). Other keys: `source`, `level` (of the
    catalog), `candidates`, `noise_m`, `min_probability` (`MeshRefinedClassifier`) and the `MeshPoseRefiner`
    settings."""
    settings = dict(settings or {})
    catalog = settings.pop("catalog", None)
    if not catalog or hasattr(classifier, "refiner"):
        return classifier
    from vn_perception.perception.mesh_pose import MeshPoseRefiner, MeshRefinedClassifier
    check = {key: settings.pop(key) for key in ("candidates", "noise_m", "min_probability") if key in settings}
    refiner = MeshPoseRefiner.from_catalog(catalog, classes=classifier.classes, **settings)
    return MeshRefinedClassifier(classifier, refiner, **check)


def _oriented_box(points, rotation):
    """(centre (3,), size (3,)) of the box around (n, 3) sensor-frame points aligned with `rotation`'s axes.

    The object-frame coordinates R^T p are summed per component, not by a BLAS product: numpy's BLAS splits an
    (n, 3) x (3, 3) product of a large object over threads, which wait for a core on a busy machine (a
    30 000-point object: 1.8 ms of CPU that way, 0.85 ms this way, on the busy 2-core dev machine).
    """
    coords = np.ascontiguousarray(points.T, dtype=np.float64)                # (3, n)
    in_object = [rotation[0, j] * coords[0] + rotation[1, j] * coords[1] + rotation[2, j] * coords[2]
                 for j in range(3)]                                          # R^T p, one object axis each
    low, high = np.array([v.min() for v in in_object]), np.array([v.max() for v in in_object])
    return rotation @ ((low + high) / 2), high - low


def _proper_rotation(matrix):
    """`matrix` when it is a rotation, else the rotation nearest to it (SVD, det +1).

    The network's frame (Gram-Schmidt of two predicted axes) is not orthonormal when the two axes come out
    parallel or zero: a degenerate shape, e.g. all points on a line, whose equivariant features all lie along
    the line (found by test/reliability/test_fuzz_pipeline.py).
    """
    if np.allclose(matrix @ matrix.T, np.eye(3), atol=1e-6) and np.linalg.det(matrix) > 0:
        return matrix
    u, _, vt = np.linalg.svd(matrix)
    return u @ np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt)) or 1.0]) @ vt


def _with_substages(segmentation_stages, pipeline_stages):
    """The segmentation's stages (crop, plane, cluster, filter), then the pipeline's (seconds)."""
    return {**{k: v for k, v in segmentation_stages.items() if k != "total"}, **pipeline_stages}


class ScenePipeline:
    """Segmentation + classification of one cloud. Build with `from_config`.

    segmentation: SegmentationConfig; classifier: an object with `.predict(list of (N_i, 3)) ->
    predictions` (label, score, rotation) and optionally `.MIN_POINTS`; min_score, max_objects,
    num_points: see assets/pipeline.yaml.
    """

    def __init__(self, segmentation, classifier, min_score=0.0, max_objects=20, num_points=1024):
        if not 0 <= float(min_score) <= 1:
            raise ValueError(f"min_score must be in [0, 1], got {min_score!r}")
        if int(max_objects) < 1 or int(num_points) < 1:
            raise ValueError(f"max_objects and num_points must be >= 1, got {max_objects!r}, {num_points!r}")
        self.segmentation = segmentation
        self.classifier = classifier
        self.min_score = float(min_score)
        self.max_objects = int(max_objects)
        self.num_points = int(num_points)
        self.min_points = max(int(getattr(classifier, "MIN_POINTS", 1)), 1)
        self.timings, self.cpu_timings = {}, {}

    @classmethod
    def from_config(cls, config=None, classifier=None):
        """Pipeline from None (packaged defaults), a YAML path or a dict (merged over the defaults).

        `classifier`: an ObjectClassifier (or any object with its `predict`) to use instead of loading
        `classifier.model_path` on `classifier.device`.
        """
        values = load_pipeline_config(config)
        if classifier is None:
            from vn_perception.classifier import ObjectClassifier
            settings = values.get("classifier") or {}
            classifier = ObjectClassifier.load(settings.get("model_path"), device=settings.get("device", "auto"))
        classifier = with_mesh_refinement(classifier, values.get("pose_refinement"))
        return cls(SegmentationConfig.from_dict(values.get("segmentation")), classifier,
                   values.get("min_score", 0.0), values.get("max_objects", 20), values.get("num_points", 1024))

    def _subset(self, points, rng):
        if len(points) <= self.num_points:
            return points
        return points[rng.choice(len(points), self.num_points, replace=False)]

    def segment(self, points):
        """(SegmentationResult, the clusters that will be classified: at least the classifier's MIN_POINTS,
        the `max_objects` largest) of an (H, W, 3) or (N, 3) cloud; ValueError as `process`."""
        result = segment_objects(points, self.segmentation)                 # validates the input
        return result, [c for c in result.clusters if len(c) >= self.min_points][:self.max_objects]

    def process(self, points):
        """Detections (list of Detection, largest objects first) in an (H, W, 3) or (N, 3) cloud.

        Empty or all-NaN clouds give []. Raises ValueError for another shape or infinite values.
        """
        clock = StageClock()
        result, clusters = self.segment(points)
        clock.lap("segmentation")

        rng = np.random.default_rng(SAMPLING_SEED)
        subsets = [self._subset(c.points, rng) for c in clusters]
        clock.lap("sampling")

        predictions = self.classifier.predict(subsets) if subsets else []
        clock.lap("inference")

        detections = []
        for cluster, prediction in zip(clusters, predictions):
            if prediction.score < self.min_score:
                continue
            rotation = _proper_rotation(np.asarray(prediction.rotation, dtype=np.float64))
            centre, size = _oriented_box(cluster.points, rotation)
            detections.append(Detection(
                label=prediction.label, score=float(prediction.score), position=centre, rotation=rotation,
                orientation_xyzw=Rotation.from_matrix(rotation).as_quat(), size=size,
                point_count=len(cluster), indices=cluster.indices,
                probabilities=np.asarray(prediction.probabilities, dtype=np.float64),
                translation=getattr(prediction, "translation", None), fit_rms_m=getattr(prediction, "fit_rms_m", None)))
        clock.lap("boxes")
        clock.total()
        self.timings = _with_substages(result.timings, clock.timings)
        self.cpu_timings = _with_substages(result.cpu_timings, clock.cpu_timings)
        return detections
