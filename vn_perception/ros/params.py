"""The node's parameters: one table (name, default, range or choices, description), validation, settings.

ROS-free: the node turns `PARAMETERS` into declarations with descriptors, and every value it receives, at
start-up or at run time, goes through `settings_from()`, which raises `ValueError` naming the parameter.

    specs = PARAMETERS                       # list[ParamSpec]
    settings = settings_from({"top_k": 3})   # Settings with defaults for the rest; ValueError when invalid

`segmentation.<field>` parameters mirror `SegmentationConfig` (perception/segmentation.py) field by field,
with the shipped pipeline's values (assets/pipeline.yaml) as defaults; an optional box (`crop_box_min_m`,
`crop_box_max_m`) is a list of 3 doubles, `[]` meaning none.
"""
import dataclasses
import re
from dataclasses import dataclass, field
from typing import Optional

from vn_perception.perception.segmentation import SegmentationConfig
from vn_perception.pipeline import load_pipeline_config
from vn_perception.utils.device import DEVICE_CHOICES

__all__ = ["ParamSpec", "PARAMETERS", "SEGMENTATION_PREFIX", "Settings", "settings_from", "parameter_names",
           "shipped_segmentation"]

SEGMENTATION_PREFIX = "segmentation."
QOS_RELIABILITY_CHOICES = ("best_effort", "reliable")
_DEVICE_PATTERN = re.compile(r"^(auto|cpu|cuda(:\d+)?)$")


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: `default` fixes its ROS type (bool, int, float, str, list of str / float)."""
    name: str
    default: object
    description: str
    #: inclusive (low, high) for numbers, None = unbounded
    value_range: Optional[tuple] = None
    #: allowed strings (documentation and validation), empty = any
    choices: tuple = ()
    #: fixed after start-up (changing it needs a restart: subscriptions, model, device)
    read_only: bool = False
    #: ROS type follows the value (an optional list: `[]` has no element type for ROS to infer)
    dynamic_typing: bool = False


_NODE_PARAMETERS = [
    ParamSpec("input_topics", ["points"], "PointCloud2 topics to detect objects in (one per camera); each keeps "
              "only its newest cloud", read_only=True),
    ParamSpec("qos_reliability", "best_effort", "input QoS: best_effort (sensor-data QoS, matches camera drivers) "
              "or reliable", choices=QOS_RELIABILITY_CHOICES, read_only=True),
    ParamSpec("target_frame", "", "frame of the published detections; '' = each cloud's own frame (no tf2)"),
    ParamSpec("tf_timeout_s", 0.1, "how long to wait for the transform at the cloud's stamp (s)", (0.0, 10.0)),
    ParamSpec("model_path", "", "classifier checkpoint (.pt); '' = the model shipped with the package",
              read_only=True),
    ParamSpec("device", "auto", "inference device: auto (CUDA when available), cpu, cuda or cuda:N",
              choices=DEVICE_CHOICES, read_only=True),
    ParamSpec("cpu_threads", 0, "torch threads for inference on the CPU; 0 = torch's default (one per core). "
              "1 or 2 avoid thrashing when other processes keep the cores busy", (0, 1024), read_only=True),
    ParamSpec("compile", False, "torch.compile the classifier at start-up (faster inference; the first start "
              "compiles for about a minute and needs a C++ compiler; falls back to uncompiled with a warning)",
              read_only=True),
    ParamSpec("mesh_catalog", "", "folder of the class meshes (catalog.csv, or meshes + labels file, named by "
              "the classifier's classes); set: each object's mesh is aligned to its points (ICP from the rotation "
              "hypotheses) and results[].pose is the pose of the mesh frame; '' = off", read_only=True),
    ParamSpec("mesh_source", "", "catalog.csv only: the source whose meshes to use (e.g. ycbv); '' = every source",
              read_only=True),
    ParamSpec("min_score", 0.2, "detections whose class score is below this are not published", (0.0, 1.0)),
    ParamSpec("top_k", 1, "class hypotheses per detection (results[]), best first", (1, 1000)),
    ParamSpec("publish_markers", True, "publish ~/markers (boxes, labels, axes) for RViz"),
]


def shipped_segmentation():
    """The segmentation settings of the shipped pipeline configuration (assets/pipeline.yaml)."""
    return SegmentationConfig.from_dict(load_pipeline_config(None).get("segmentation"))


def _segmentation_parameters():
    """`segmentation.<field>` for every SegmentationConfig field, with the shipped value and its type."""
    specs = []
    shipped = shipped_segmentation()
    for f in dataclasses.fields(SegmentationConfig):
        default = getattr(shipped, f.name)
        if default is None:                       # optional (x, y, z) box corner
            default = []
        elif isinstance(default, tuple):
            default = [float(v) for v in default]
        low = 0 if isinstance(default, (int, float)) and not isinstance(default, bool) else None
        value_range = (low, float("inf") if isinstance(default, float) else 2**63 - 1) if low is not None else None
        if f.name == "min_height_m":              # may be negative (keep points slightly below the plane)
            value_range = (-float("inf"), float("inf"))
        specs.append(ParamSpec(SEGMENTATION_PREFIX + f.name, default,
                               f"segmentation: SegmentationConfig.{f.name} (see perception/segmentation.py)",
                               value_range, dynamic_typing=isinstance(default, list)))
    return specs


PARAMETERS = _NODE_PARAMETERS + _segmentation_parameters()
_BY_NAME = {spec.name: spec for spec in PARAMETERS}


def parameter_names():
    """Names of every parameter the node declares."""
    return [spec.name for spec in PARAMETERS]


@dataclass(frozen=True)
class Settings:
    """A validated snapshot of every parameter (the worker reads one snapshot per cloud)."""
    input_topics: tuple
    qos_reliability: str
    target_frame: str
    tf_timeout_s: float
    model_path: str
    device: str
    cpu_threads: int
    compile: bool
    mesh_catalog: str
    mesh_source: str
    min_score: float
    top_k: int
    publish_markers: bool
    segmentation: SegmentationConfig = field(default_factory=shipped_segmentation)


def _check(spec, value):
    """Value of `spec` converted to its canonical Python type; ValueError when out of range or choices."""
    name = spec.name
    if isinstance(spec.default, bool):
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false, got {value!r}")
        return value
    if isinstance(spec.default, (int, float)):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number, got {value!r}")
        value = int(value) if isinstance(spec.default, int) else float(value)
        if value != value:
            raise ValueError(f"{name} must not be NaN")
        low, high = spec.value_range or (-float("inf"), float("inf"))
        if not low <= value <= high:
            raise ValueError(f"{name} must lie in [{low}, {high}], got {value}")
        return value
    if isinstance(spec.default, str):
        if not isinstance(value, str):
            raise ValueError(f"{name} must be a string, got {value!r}")
        value = value.strip()
        if name == "device":
            if not _DEVICE_PATTERN.match(value.lower()):
                raise ValueError(f"device must be one of {', '.join(DEVICE_CHOICES)} or cuda:N, got {value!r}")
            return value.lower()
        if spec.choices and value not in spec.choices:
            raise ValueError(f"{name} must be one of {', '.join(spec.choices)}, got {value!r}")
        return value
    if isinstance(value, (str, bytes)) or not hasattr(value, "__iter__"):
        raise ValueError(f"{name} must be a list, got {value!r}")
    value = list(value)
    if spec.dynamic_typing:                         # an optional list of numbers ([] = none)
        if any(isinstance(v, (bool, str, bytes)) or not isinstance(v, (int, float)) for v in value):
            raise ValueError(f"{name} must be a list of numbers or [], got {value!r}")
        return [float(v) for v in value]
    if not all(isinstance(v, str) for v in value):
        raise ValueError(f"{name} must be a list of strings, got {value!r}")
    return value


def _segmentation_config(values):
    """SegmentationConfig from `segmentation.<field>` values ([] box corners meaning none)."""
    fields = {}
    for name, value in values.items():
        key = name[len(SEGMENTATION_PREFIX):]
        if isinstance(value, list):
            value = tuple(float(v) for v in value) if value else None
        fields[key] = value
    try:
        return SegmentationConfig.from_dict(fields)
    except (TypeError, ValueError) as e:
        raise ValueError(f"invalid segmentation settings: {e}") from None


def settings_from(values):
    """Settings from {parameter name: value} (missing names take their defaults).

    Raises ValueError naming the offending parameter for an unknown name, a wrong type, a value out of range
    or out of its choices, an empty input topic list, or segmentation settings SegmentationConfig rejects.
    """
    unknown = sorted(set(values) - set(_BY_NAME))
    if unknown:
        raise ValueError(f"unknown parameter(s): {', '.join(unknown)}")
    merged = {spec.name: _check(spec, values.get(spec.name, spec.default)) for spec in PARAMETERS}
    topics = tuple(str(t).strip() for t in merged["input_topics"])
    if not topics or any(not t for t in topics):
        raise ValueError(f"input_topics must name at least one topic and no empty one, got {list(topics)}")
    if len(set(topics)) != len(topics):
        raise ValueError(f"input_topics lists a topic twice: {list(topics)}")
    segmentation = _segmentation_config({k: v for k, v in merged.items() if k.startswith(SEGMENTATION_PREFIX)})
    node_values = {k: v for k, v in merged.items() if not k.startswith(SEGMENTATION_PREFIX)}
    node_values["input_topics"] = topics
    return Settings(segmentation=segmentation, **node_values)
