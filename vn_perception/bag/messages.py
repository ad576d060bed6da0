"""Messages of the bags: organized clouds, ground-truth / detected objects, clock; numpy on the outside.

Builders make rosbags message objects from a typestore (`bag.typestore.project_typestore`). Readers are
duck-typed on attribute names, so they take rosbags-deserialised and rclpy messages alike.
Poses follow the project convention: `p_camera = rotation @ p_object + position` (metres), quaternions xyzw.
"""
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial.transform import Rotation

from vn_perception.pointcloud import XYZ, pack_cloud

NANOSECONDS_PER_SECOND = 1_000_000_000
POINTCLOUD2 = "sensor_msgs/msg/PointCloud2"
DETECTION3D_ARRAY = "vision_msgs/msg/Detection3DArray"
CLOCK = "rosgraph_msgs/msg/Clock"


@dataclass
class ObjectPose:
    """One object: class `label`, `rotation [3, 3]` and `position [3]` (object -> camera, metres), box `size [3]`
    (metres), `score` in [0, 1], an `id` string unique within its frame."""

    label: str
    rotation: np.ndarray
    position: np.ndarray
    size: np.ndarray = field(default_factory=lambda: np.zeros(3))
    score: float = 1.0
    id: str = ""


def stamp_to_ns(stamp):
    """builtin_interfaces/Time-like (`sec`, `nanosec`) -> integer nanoseconds."""
    return int(stamp.sec) * NANOSECONDS_PER_SECOND + int(stamp.nanosec)


def _time(typestore, stamp_ns):
    Time = typestore.types["builtin_interfaces/msg/Time"]
    sec, nanosec = divmod(int(stamp_ns), NANOSECONDS_PER_SECOND)
    return Time(sec=sec, nanosec=nanosec)


def header(typestore, frame_id, stamp_ns):
    """std_msgs/Header with `frame_id` and a stamp in nanoseconds."""
    return typestore.types["std_msgs/msg/Header"](stamp=_time(typestore, stamp_ns), frame_id=str(frame_id))


def clock_message(typestore, stamp_ns):
    """rosgraph_msgs/Clock at `stamp_ns`."""
    return typestore.types[CLOCK](clock=_time(typestore, stamp_ns))


def cloud_message(typestore, xyz, frame_id, stamp_ns):
    """sensor_msgs/PointCloud2 of float32 x, y, z: organized `[H, W, 3]` (NaN = no return) or `[N, 3]`."""
    xyz = np.asarray(xyz, dtype=np.float32)
    packed = pack_cloud({name: xyz[..., i] for i, name in enumerate(XYZ)})
    PointField = typestore.types["sensor_msgs/msg/PointField"]
    return typestore.types[POINTCLOUD2](
        header=header(typestore, frame_id, stamp_ns), height=packed.height, width=packed.width,
        fields=[PointField(name=f.name, offset=f.offset, datatype=f.datatype, count=f.count) for f in packed.fields],
        is_bigendian=packed.is_bigendian, point_step=packed.point_step, row_step=packed.row_step,
        data=packed.data, is_dense=packed.is_dense)


def _pose(typestore, rotation, position):
    t = typestore.types
    x, y, z, w = Rotation.from_matrix(np.asarray(rotation, dtype=float)).as_quat()
    px, py, pz = (float(v) for v in position)
    return t["geometry_msgs/msg/Pose"](position=t["geometry_msgs/msg/Point"](x=px, y=py, z=pz),
                                        orientation=t["geometry_msgs/msg/Quaternion"](x=x, y=y, z=z, w=w))


def detection_array_message(typestore, objects, frame_id, stamp_ns):
    """vision_msgs/Detection3DArray: one Detection3D per `ObjectPose`, its pose in `results[0].pose.pose` and in
    `bbox.center`, `bbox.size` = the object's size, `results[0].hypothesis` = (label, score)."""
    t = typestore.types
    head = header(typestore, frame_id, stamp_ns)
    detections = []
    for obj in objects:
        pose = _pose(typestore, obj.rotation, obj.position)
        hypothesis = t["vision_msgs/msg/ObjectHypothesis"](class_id=str(obj.label), score=float(obj.score))
        result = t["vision_msgs/msg/ObjectHypothesisWithPose"](
            hypothesis=hypothesis,
            pose=t["geometry_msgs/msg/PoseWithCovariance"](pose=pose, covariance=np.zeros(36)))
        sx, sy, sz = (float(v) for v in obj.size)
        bbox = t["vision_msgs/msg/BoundingBox3D"](center=pose, size=t["geometry_msgs/msg/Vector3"](x=sx, y=sy, z=sz))
        detections.append(t["vision_msgs/msg/Detection3D"](header=head, results=[result], bbox=bbox, id=str(obj.id)))
    return t[DETECTION3D_ARRAY](header=head, detections=detections)


def _rotation_of(orientation):
    q = np.array([orientation.x, orientation.y, orientation.z, orientation.w], dtype=float)
    if not np.isfinite(q).all() or np.linalg.norm(q) == 0:
        return np.full((3, 3), np.nan)
    return Rotation.from_quat(q).as_matrix()


def object_poses(msg):
    """Detection3DArray (rosbags or rclpy) -> list of `ObjectPose`, the best hypothesis of each detection.

    The pose is the best hypothesis' `pose.pose` (vision_msgs' documented place for the object pose); a detection
    without results keeps an empty label and its `bbox.center` pose.
    """
    out = []
    for det in msg.detections:
        best = max(det.results, key=lambda r: r.hypothesis.score) if len(det.results) else None
        pose = best.pose.pose if best is not None else det.bbox.center
        out.append(ObjectPose(
            label=str(best.hypothesis.class_id) if best is not None else "",
            rotation=_rotation_of(pose.orientation),
            position=np.array([pose.position.x, pose.position.y, pose.position.z], dtype=float),
            size=np.array([det.bbox.size.x, det.bbox.size.y, det.bbox.size.z], dtype=float),
            score=float(best.hypothesis.score) if best is not None else 0.0,
            id=str(det.id)))
    return out
