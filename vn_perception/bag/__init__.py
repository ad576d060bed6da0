"""rosbag2 without rclpy: a typestore with vision_msgs, message builders and readers, bag reading and writing."""
from vn_perception.bag.io import (METADATA_VERSION, STORAGES, BagError, BagFrame, BagWriter, bag_topics,
                                  count_messages, raw_messages, read_frames, read_ground_truth)
from vn_perception.bag.messages import (CLOCK, DETECTION3D_ARRAY, POINTCLOUD2, ObjectPose, cloud_message,
                                        clock_message, detection_array_message, object_poses, stamp_to_ns)
from vn_perception.bag.topics import CAMERA_FRAME, CLOCK_TOPIC, CLOUD_TOPIC, DETECTIONS_TOPIC, GT_TOPIC
from vn_perception.bag.typestore import TypestoreError, project_typestore, vision_msgs_dir

__all__ = [
    "METADATA_VERSION", "STORAGES", "BagError", "BagFrame", "BagWriter", "bag_topics", "count_messages",
    "raw_messages", "read_frames", "read_ground_truth", "CLOCK", "DETECTION3D_ARRAY", "POINTCLOUD2", "ObjectPose",
    "cloud_message", "clock_message", "detection_array_message", "object_poses", "stamp_to_ns",
    "CAMERA_FRAME", "CLOCK_TOPIC", "CLOUD_TOPIC", "DETECTIONS_TOPIC", "GT_TOPIC",
    "TypestoreError", "project_typestore", "vision_msgs_dir",
]
