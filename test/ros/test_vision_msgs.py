"""vision_msgs as the node uses it: importable, same type hashes as upstream vision_msgs 4.x, and a
Detection3DArray published by one process arrives intact in another."""
import subprocess
import sys
import textwrap

import pytest

from ros_harness import wait_until

#: RIHS01 type hashes of ros-perception/vision_msgs 4.x (its generated type descriptions): equal hashes mean
#: the same names, field names and types, so the same wire format, and Jazzy+ peers match without warnings.
UPSTREAM_TYPE_HASHES = {
    "Detection3DArray": "793f5eab9595ac1c0da07873cc859db42eae51f0ee76056db8562515d830e018",
    "Detection3D": "ddd703be132ab0b69d33121f1bb034132bfbb3b0ac5f9fb1516005ba1c8a265b",
    "BoundingBox3D": "bbb73a65c163d7f9bb29009c7bde9f7faa576bd2d23299c4511d19230dab4698",
    "ObjectHypothesis": "51da43cec11c01957a64d1e05a24acd18aae7745ec30b74348ad5f6d634f7f90",
    "ObjectHypothesisWithPose": "41c12344c0396c48b81df12467c192d99b2a0eb1463c5c37194e4223251c80bc",
    "LabelInfo": "3d37df4015cdf660cc851c51897f2acd957e1ca6205ba0a99aebffb9406b0783",
    "VisionClass": "1e4a11f0fed50b5623cb8ff26ca0e37952a48a9c074d16f804b44e9164c2037a",
}

PUBLISHER = textwrap.dedent("""
    import sys, time, rclpy
    from vision_msgs.msg import Detection3D, Detection3DArray, ObjectHypothesis, ObjectHypothesisWithPose
    rclpy.init()
    node = rclpy.create_node("vision_msgs_publisher")
    publisher = node.create_publisher(Detection3DArray, "vision_msgs_roundtrip", 10)
    deadline = time.monotonic() + 30
    while publisher.get_subscription_count() < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    message = Detection3DArray()
    message.header.frame_id = "camera"
    message.header.stamp.sec = 1234
    for i in range(3):
        detection = Detection3D(id=str(i))
        detection.bbox.center.position.x = 0.1 * i
        detection.bbox.size.z = 0.05
        hypothesis = ObjectHypothesisWithPose(hypothesis=ObjectHypothesis(class_id=f"class_{i}", score=0.5))
        hypothesis.pose.covariance[35] = 3.29
        detection.results.append(hypothesis)
        message.detections.append(detection)
    for _ in range(50):
        publisher.publish(message)
        time.sleep(0.05)
    node.destroy_node()
    rclpy.try_shutdown()
""")


def test_messages_import_with_the_vision_msgs_4_fields():
    from vision_msgs.msg import Detection3D, LabelInfo, ObjectHypothesis, ObjectHypothesisWithPose
    assert set(Detection3D.get_fields_and_field_types()) == {"header", "results", "bbox", "id"}
    assert ObjectHypothesis.get_fields_and_field_types() == {"class_id": "string", "score": "double"}
    assert ObjectHypothesisWithPose.get_fields_and_field_types()["pose"] == "geometry_msgs/PoseWithCovariance"
    assert set(LabelInfo.get_fields_and_field_types()) == {"header", "class_map", "threshold"}


@pytest.mark.parametrize("name", sorted(UPSTREAM_TYPE_HASHES))
def test_type_hash_equals_upstream(ros, name):
    import vision_msgs.msg
    msg_type = getattr(vision_msgs.msg, name)
    topic = f"type_hash_{name}"
    ros.node.create_publisher(msg_type, topic, 1)
    infos = wait_until(lambda: ros.node.get_publishers_info_by_topic(topic), 10.0)
    type_hash = getattr(infos[0], "topic_type_hash", None)
    if type_hash is None:
        pytest.skip("this ROS 2 distribution has no type hashes (Humble)")
    assert str(type_hash) == "RIHS01_" + UPSTREAM_TYPE_HASHES[name]


def test_detection3darray_crosses_processes(ros):
    from vision_msgs.msg import Detection3DArray
    received = ros.collect(Detection3DArray, "vision_msgs_roundtrip")
    publisher = subprocess.Popen([sys.executable, "-c", PUBLISHER])
    try:
        message = received.wait_for(timeout=40.0)
    finally:
        publisher.wait(timeout=60)
    assert publisher.returncode == 0
    assert message is not None, "no Detection3DArray received from the other process"
    assert message.header.frame_id == "camera" and message.header.stamp.sec == 1234
    assert [d.id for d in message.detections] == ["0", "1", "2"]
    assert [d.results[0].hypothesis.class_id for d in message.detections] == ["class_0", "class_1", "class_2"]
    assert message.detections[2].bbox.center.position.x == pytest.approx(0.2)
    assert message.detections[1].results[0].pose.covariance[35] == pytest.approx(3.29)
