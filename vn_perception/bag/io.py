"""Reading and writing rosbag2 folders with rosbags (no rclpy): metadata version 8, mcap or sqlite3 storage.

Version 8 metadata is readable by Humble, Iron, Jazzy and Kilted (`shared/ROS_ON_PIP.md`, Bags).
"""
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from rosbags.rosbag2 import Reader, StoragePlugin, Writer

from vn_perception.bag.messages import object_poses, stamp_to_ns
from vn_perception.bag.typestore import project_typestore

#: storage name -> rosbags plugin
STORAGES = {"mcap": StoragePlugin.MCAP, "sqlite3": StoragePlugin.SQLITE3}
#: rosbag2 metadata version written (8: Humble and newer can read it)
METADATA_VERSION = 8


class BagError(ValueError):
    """A bag that lacks what was asked (a topic, the right message type)."""


class BagWriter:
    """A new rosbag2 folder; topics are added on their first message (type from the message).

        with BagWriter("scene_bag", storage="mcap") as bag:
            bag.write("/clock", clock_message(bag.typestore, t), t)
    """

    def __init__(self, path, storage="mcap", typestore=None):
        if storage not in STORAGES:
            raise BagError(f"unknown storage {storage!r}: expected one of {', '.join(STORAGES)}")
        self.path = Path(path)
        if self.path.exists():
            raise BagError(f"{self.path} exists: rosbag2 writes a new folder")
        self.typestore = typestore or project_typestore()
        self._writer = Writer(self.path, version=METADATA_VERSION, storage_plugin=STORAGES[storage])
        self._connections = {}

    def __enter__(self):
        self._writer.open()
        return self

    def __exit__(self, *exc):
        self._writer.close()

    def write(self, topic, msg, stamp_ns):
        """Serialise `msg` (a message of `self.typestore`) on `topic` at bag time `stamp_ns` (nanoseconds)."""
        msgtype = msg.__msgtype__
        if topic not in self._connections:
            self._connections[topic] = self._writer.add_connection(topic, msgtype, typestore=self.typestore)
        self._writer.write(self._connections[topic], int(stamp_ns), self.typestore.serialize_cdr(msg, msgtype))


def bag_topics(path):
    """{topic: message type} of a bag."""
    with Reader(path) as reader:
        return {c.topic: c.msgtype for c in reader.connections}


def _connections(reader, topic, msgtype=None):
    found = [c for c in reader.connections if c.topic == topic]
    if not found:
        topics = ", ".join(sorted({c.topic for c in reader.connections})) or "none"
        raise BagError(f"bag {reader.path} has no topic {topic!r} (topics: {topics})")
    if msgtype is not None and any(c.msgtype != msgtype for c in found):
        raise BagError(f"topic {topic!r} in {reader.path} carries {found[0].msgtype}, expected {msgtype}")
    return found


@dataclass
class BagFrame:
    """One cloud of a bag: header stamp (ns), the deserialised PointCloud2, its ground truth (list of
    `ObjectPose`; None when the bag has no ground-truth message for this stamp)."""

    stamp_ns: int
    cloud: object
    ground_truth: Optional[list]


def count_messages(path, topic):
    """Number of messages on `topic` (0 when absent)."""
    with Reader(path) as reader:
        return sum(c.msgcount for c in reader.connections if c.topic == topic)


def read_ground_truth(path, gt_topic, typestore=None):
    """{header stamp ns: list of ObjectPose} of every Detection3DArray on `gt_topic`."""
    typestore = typestore or project_typestore()
    with Reader(path) as reader:
        out = {}
        for connection, _, raw in reader.messages(connections=_connections(reader, gt_topic)):
            msg = typestore.deserialize_cdr(raw, connection.msgtype)
            out[stamp_to_ns(msg.header.stamp)] = object_poses(msg)
    return out


def nearest_stamp(stamps, stamp_ns, tolerance_ns):
    """The stamp of the sorted int64 array `stamps` nearest to `stamp_ns` when within `tolerance_ns`, else None."""
    i = int(np.searchsorted(stamps, stamp_ns))
    candidates = stamps[max(i - 1, 0):i + 1]
    if len(candidates) == 0:
        return None
    best = int(candidates[np.argmin(np.abs(candidates - stamp_ns))])
    return best if abs(best - stamp_ns) <= tolerance_ns else None


def read_frames(path, cloud_topic, gt_topic=None, stamp_tolerance_ns=1_000_000, typestore=None):
    """Iterate over the clouds of a bag as `BagFrame`s, each paired with the ground-truth message whose header
    stamp is nearest to the cloud's (within `stamp_tolerance_ns`). `gt_topic` None or absent from the bag:
    every frame's ground truth is None (detections and timings only)."""
    typestore = typestore or project_typestore()
    truth = {}
    if gt_topic is not None and gt_topic in bag_topics(path):
        truth = read_ground_truth(path, gt_topic, typestore)
    stamps = np.array(sorted(truth), dtype=np.int64)
    with Reader(path) as reader:
        for connection, _, raw in reader.messages(connections=_connections(reader, cloud_topic)):
            cloud = typestore.deserialize_cdr(raw, connection.msgtype)
            stamp = stamp_to_ns(cloud.header.stamp)
            match = nearest_stamp(stamps, stamp, stamp_tolerance_ns)
            yield BagFrame(stamp, cloud, truth[match] if match is not None else None)


def raw_messages(path, topics):
    """Yield `(topic, msgtype, bag time ns, raw CDR bytes)` of `topics` in bag-time order (topics absent from
    the bag are skipped)."""
    with Reader(path) as reader:
        connections = [c for c in reader.connections if c.topic in set(topics)]
        for connection, time_ns, raw in reader.messages(connections=connections):
            yield connection.topic, connection.msgtype, int(time_ns), bytes(raw)
