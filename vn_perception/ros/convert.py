"""Detections -> ROS messages (vision_msgs, RViz markers, diagnostics): pure functions of their inputs.

Frames: a detection's pose comes in the cloud's frame (`p_cloud = R @ p_object + t`); an optional
`frame_transform` (R_f, t_f) from tf2 maps it into the published frame (`header.frame_id`).

Pose covariance (6 x 6, row-major, [x, y, z, rotation about x, y, z] of the published frame's fixed axes):
  position, isotropic:  var = POINT_NOISE_M**2 / point_count + (CENTROID_BIAS_FRACTION * max(size))**2
    - the first term is the standard error of the mean of `point_count` points of sensor noise POINT_NOISE_M;
    - the second dominates: one view sees only the near surface, so the centre estimated from the visible
      points is off by a fraction of the object's size (up to half its depth along the viewing ray).
  rotation: sigma about each object axis (`rotation_std_rad`: from the checkpoint's validation median rotation
    error when it records one, else ROTATION_STD_RAD), except about the symmetry axis `a` of a class with a
    continuous symmetry (a can, a bowl), where the angle is unobservable: var = pi**2 / 3 (the variance of an
    angle uniform on (-pi, pi]). Built in the object frame and rotated into the published frame:
    Sigma = R Sigma_object R^T. A discrete n-fold symmetry keeps the small value: the orientation is one of n
    equivalent ones, which a unimodal covariance cannot express; compare orientations modulo 2 pi / n.
"""
import colorsys
import math

import numpy as np
from builtin_interfaces.msg import Duration
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from geometry_msgs.msg import Point, Pose, PoseWithCovariance, Quaternion, Vector3
from scipy.spatial.transform import Rotation
from std_msgs.msg import ColorRGBA, Header
from vision_msgs.msg import (BoundingBox3D, Detection3D, Detection3DArray, LabelInfo, ObjectHypothesis,
                             ObjectHypothesisWithPose, VisionClass)
from visualization_msgs.msg import Marker, MarkerArray

__all__ = [
    "POINT_NOISE_M", "CENTROID_BIAS_FRACTION", "ROTATION_STD_RAD", "MAXWELL_MEDIAN_PER_SIGMA",
    "UNOBSERVABLE_ANGLE_VARIANCE", "rotation_matrix", "transform_points", "rotation_std_rad", "pose_covariance",
    "top_hypotheses", "detection_array", "label_info", "marker_array", "class_color", "diagnostic_status",
    "output_header",
]

#: one depth point's noise (m): the YCB-Video Xtion frames lie a median 2.8 mm from the object models
POINT_NOISE_M = 0.003
#: standard deviation of the visible-surface centroid's offset from the object centre, as a fraction of the
#: object's largest side (a uniform offset over [0, size/2] along the viewing ray has std ~ 0.15 size; 0.25
#: leaves room for partial clusters)
CENTROID_BIAS_FRACTION = 0.25
#: rotation error of an asymmetric object (rad), 1 sigma: ~15 degrees, the order of a VN classifier's
#: median rotation error on real partial views
ROTATION_STD_RAD = math.radians(15.0)
#: median of the error angle / per-axis sigma for an isotropic Gaussian rotation error (Maxwell distribution)
MAXWELL_MEDIAN_PER_SIGMA = 1.5382
#: variance (rad^2) of an angle uniform on (-pi, pi]: the rotation about a continuous symmetry axis
UNOBSERVABLE_ANGLE_VARIANCE = math.pi ** 2 / 3.0
#: marker line width and text height (m)
_LINE_WIDTH_M = 0.004
_TEXT_HEIGHT_M = 0.03


# ------------------------------------------------------------------------------------------ frames, poses
def rotation_matrix(xyzw):
    """3 x 3 rotation matrix of a quaternion (x, y, z, w) (normalised first)."""
    return Rotation.from_quat(np.asarray(xyzw, dtype=np.float64)).as_matrix()


def transform_points(points, rotation, translation):
    """`rotation @ p + translation` for every point of an (..., 3) array (NaN stays NaN), float32."""
    points = np.asarray(points)
    flat = points.reshape(-1, 3).astype(np.float64)
    moved = flat @ np.asarray(rotation, dtype=np.float64).T + np.asarray(translation, dtype=np.float64)
    return moved.astype(np.float32).reshape(points.shape)


def _pose_in_frame(detection, frame_transform):
    """(R, t) of the object in the published frame."""
    rotation = np.asarray(detection.rotation, dtype=np.float64).reshape(3, 3)
    position = np.asarray(detection.position, dtype=np.float64).reshape(3)
    if frame_transform is not None:
        frame_rotation, frame_translation = (np.asarray(v, dtype=np.float64) for v in frame_transform)
        rotation, position = frame_rotation @ rotation, frame_rotation @ position + frame_translation
    return rotation, position


def _pose_msg(rotation, position):
    x, y, z, w = Rotation.from_matrix(rotation).as_quat()
    return Pose(position=Point(x=float(position[0]), y=float(position[1]), z=float(position[2])),
                orientation=Quaternion(x=float(x), y=float(y), z=float(z), w=float(w)))


def _symmetry_axis(symmetry):
    """Unit axis (object frame) of a *continuous* symmetry, else None.

    Accepts `vn_perception.models.symmetry.Symmetry` (attributes `kind`, `axis`) or None.
    """
    if symmetry is None or str(getattr(symmetry, "kind", "none")).lower() != "continuous":
        return None
    axis = np.asarray(getattr(symmetry, "axis", (0.0, 0.0, 1.0)), dtype=np.float64).reshape(3)
    return axis / max(np.linalg.norm(axis), 1e-12)


def rotation_std_rad(metadata, mesh_refined=False):
    """Per-axis rotation sigma (rad) of a classifier: from its checkpoint metadata's symmetry-aware validation
    median error (`metrics.val_rotation_median_deg`, synthetic views: a lower bound for real scenes) as
    median / MAXWELL_MEDIAN_PER_SIGMA; ROTATION_STD_RAD when the checkpoint records none. `mesh_refined`: the
    sigma of mesh-refined rotations instead, from the largest correctly-classified median of
    `evaluation.with_mesh_refinement` (the real frames' for the shipped model); None when it records none."""
    if mesh_refined:
        tests = ((metadata or {}).get("evaluation") or {}).get("with_mesh_refinement") or {}
        medians = [t.get("rotation_median_deg_correct") for t in tests.values() if isinstance(t, dict)]
        medians = [float(m) for m in medians if m is not None and math.isfinite(float(m)) and float(m) > 0]
        return math.radians(max(medians)) / MAXWELL_MEDIAN_PER_SIGMA if medians else None
    median_deg = ((metadata or {}).get("metrics") or {}).get("val_rotation_median_deg")
    if median_deg is None or not math.isfinite(float(median_deg)) or float(median_deg) <= 0:
        return ROTATION_STD_RAD
    return math.radians(float(median_deg)) / MAXWELL_MEDIAN_PER_SIGMA


def pose_covariance(rotation, size, point_count, symmetry=None, rotation_std=ROTATION_STD_RAD):
    """6 x 6 pose covariance (module docstring), row-major as a list of 36 floats.

    rotation: (3, 3) object -> published frame; size: (3,) box sides (m); point_count: points of the cluster;
    symmetry: the class's Symmetry (or None = asymmetric); rotation_std: per-axis sigma (rad).
    """
    largest_side = float(np.max(np.abs(np.asarray(size, dtype=np.float64))))
    position_variance = POINT_NOISE_M ** 2 / max(int(point_count), 1) + (CENTROID_BIAS_FRACTION * largest_side) ** 2
    rotation_object = np.eye(3) * rotation_std ** 2
    axis = _symmetry_axis(symmetry)
    if axis is not None:
        rotation_object += (UNOBSERVABLE_ANGLE_VARIANCE - rotation_std ** 2) * np.outer(axis, axis)
    rotation = np.asarray(rotation, dtype=np.float64)
    covariance = np.zeros((6, 6))
    covariance[:3, :3] = np.eye(3) * position_variance
    covariance[3:, 3:] = rotation @ rotation_object @ rotation.T
    return [float(v) for v in covariance.reshape(-1)]


# ------------------------------------------------------------------------------------------ vision_msgs
def top_hypotheses(detection, classes, top_k):
    """[(label, score)] best first: the detection's own label, then the next most probable classes.

    Uses `detection.probabilities` ((K,) over `classes`) when present; scores are clipped to [0, 1].
    """
    ranked = [(str(detection.label), float(detection.score))]
    probabilities = getattr(detection, "probabilities", None)
    if probabilities is not None and top_k > 1:
        probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1)
        for index in np.argsort(-probabilities, kind="stable"):
            if len(ranked) >= top_k:
                break
            if index < len(classes) and classes[index] != ranked[0][0]:
                ranked.append((str(classes[index]), float(probabilities[index])))
    return [(label, min(max(score, 0.0), 1.0)) for label, score in ranked[:top_k]]


def _symmetry_of(symmetries, classes, label):
    """The Symmetry of `label` from a {label: Symmetry} mapping or a list aligned with `classes`."""
    if not symmetries:
        return None
    if isinstance(symmetries, dict):
        return symmetries.get(label)
    try:
        return symmetries[list(classes).index(label)]
    except (ValueError, IndexError):
        return None


def detection_array(detections, header, classes, symmetries=None, top_k=1, frame_transform=None,
                    rotation_std=ROTATION_STD_RAD, refined_rotation_std=None):
    """vision_msgs/Detection3DArray of pipeline Detections.

    header: std_msgs/Header of the output (the source cloud's stamp, the published frame).
    classes: the classifier's class names; symmetries: per class (see `_symmetry_of`).
    frame_transform: optional (R (3, 3), t (3,)) cloud frame -> published frame.
    rotation_std: per-axis rotation sigma (rad) of the classifier (`rotation_std_rad`); refined_rotation_std: the
    one of mesh-refined detections (`detection.translation` set; `rotation_std_rad(metadata, mesh_refined=True)`),
    None = rotation_std for all.
    Each Detection3D: `id` = its index in this message; results = top-k hypotheses, all carrying the same
    pose with covariance; bbox.center = the oriented box's pose, bbox.size = the box sides (m). The results'
    pose is the box's too, except with pose refinement (`detection.translation` set): then it is the pose of
    the class mesh's frame (rotation + mesh origin), where grasps defined on the mesh apply.
    """
    message = Detection3DArray(header=header)
    for index, detection in enumerate(detections):
        rotation, position = _pose_in_frame(detection, frame_transform)
        pose = _pose_msg(rotation, position)
        object_pose, sigma = pose, rotation_std
        if getattr(detection, "translation", None) is not None:
            sigma = refined_rotation_std if refined_rotation_std is not None else rotation_std
            origin = np.asarray(detection.translation, dtype=np.float64).reshape(3)
            if frame_transform is not None:
                origin = np.asarray(frame_transform[0], dtype=np.float64) @ origin + np.asarray(frame_transform[1])
            object_pose = _pose_msg(rotation, origin)
        covariance = pose_covariance(rotation, detection.size, detection.point_count,
                                     _symmetry_of(symmetries, classes, str(detection.label)), sigma)
        size = np.abs(np.asarray(detection.size, dtype=np.float64)).reshape(3)
        message.detections.append(Detection3D(
            header=header,
            id=str(index),
            bbox=BoundingBox3D(center=pose, size=Vector3(x=float(size[0]), y=float(size[1]), z=float(size[2]))),
            results=[ObjectHypothesisWithPose(hypothesis=ObjectHypothesis(class_id=label, score=score),
                                              pose=PoseWithCovariance(pose=object_pose, covariance=covariance))
                     for label, score in top_hypotheses(detection, classes, top_k)]))
    return message


def label_info(classes, header, threshold):
    """vision_msgs/LabelInfo: class index -> class name, and the score threshold applied."""
    return LabelInfo(header=header, threshold=float(threshold),
                     class_map=[VisionClass(class_id=i, class_name=str(name)) for i, name in enumerate(classes)])


# ------------------------------------------------------------------------------------------ markers
def class_color(index, alpha=1.0):
    """A distinct colour per class index (golden-ratio hue steps)."""
    red, green, blue = colorsys.hsv_to_rgb((index * 0.618033988749895) % 1.0, 0.75, 0.95)
    return ColorRGBA(r=red, g=green, b=blue, a=float(alpha))


def marker_array(detection_msg, classes, namespace="vn_perception"):
    """visualization_msgs/MarkerArray of a Detection3DArray: per detection an oriented CUBE (colour of its
    class, ns `<namespace>/boxes`), a TEXT_VIEW_FACING "label score" (`/labels`) and a LINE_LIST of its x, y, z
    axes (red, green, blue; length 0.6 x the largest side; `/axes`), after one DELETEALL per namespace (RViz 2
    clears only the DELETEALL's own namespace, so several cameras' markers do not erase each other)."""
    header = detection_msg.header
    markers = [Marker(header=header, ns=f"{namespace}/{kind}", action=Marker.DELETEALL)
               for kind in ("boxes", "labels", "axes")]
    index_of = {name: i for i, name in enumerate(classes)}
    for number, detection in enumerate(detection_msg.detections):
        best = detection.results[0].hypothesis if detection.results else ObjectHypothesis(class_id="?", score=0.0)
        pose, size = detection.bbox.center, detection.bbox.size
        color = class_color(index_of.get(best.class_id, len(index_of)))
        markers.append(Marker(header=header, ns=f"{namespace}/boxes", id=number, type=Marker.CUBE,
                              action=Marker.ADD, pose=pose, scale=Vector3(x=size.x, y=size.y, z=size.z),
                              color=ColorRGBA(r=color.r, g=color.g, b=color.b, a=0.4), lifetime=Duration()))
        markers.append(Marker(header=header, ns=f"{namespace}/labels", id=number, type=Marker.TEXT_VIEW_FACING,
                              action=Marker.ADD, pose=pose, scale=Vector3(z=_TEXT_HEIGHT_M), color=color,
                              text=f"{best.class_id} {best.score:.2f}"))
        length = 0.6 * max(size.x, size.y, size.z, 0.01)
        axes = Marker(header=header, ns=f"{namespace}/axes", id=number, type=Marker.LINE_LIST, action=Marker.ADD,
                      pose=pose, scale=Vector3(x=_LINE_WIDTH_M), color=ColorRGBA(a=1.0))
        for axis, (r, g, b) in enumerate(((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))):
            tip = [0.0, 0.0, 0.0]
            tip[axis] = length
            axes.points += [Point(), Point(x=tip[0], y=tip[1], z=tip[2])]
            axes.colors += [ColorRGBA(r=r, g=g, b=b, a=1.0)] * 2
        markers.append(axes)
    return MarkerArray(markers=markers)


# ------------------------------------------------------------------------------------------ diagnostics
def diagnostic_status(name, hardware_id, level, message, values):
    """diagnostic_msgs/DiagnosticStatus with `values` ({key: value}) as strings (floats with 3 decimals)."""
    def text(value):
        return f"{value:.3f}" if isinstance(value, float) else str(value)
    return DiagnosticStatus(level=level, name=name, hardware_id=hardware_id, message=message,
                            values=[KeyValue(key=str(k), value=text(v)) for k, v in values.items()])


def output_header(cloud_header, frame_id):
    """Header of the outputs: the cloud's stamp, `frame_id` ('' = the cloud's frame)."""
    return Header(stamp=cloud_header.stamp, frame_id=frame_id or cloud_header.frame_id)
