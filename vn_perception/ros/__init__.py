"""The ROS 2 side of vn_perception: the node and what it needs, apart from the ROS-free core.

- node.py: `vn_perception_node` (subscriptions, keep-latest worker, publishers, diagnostics)
- params.py: the parameter table, validation, Settings (ROS-free)
- convert.py: Detections -> vision_msgs / markers / diagnostics messages (pure functions)
- inference.py: the pipeline as the node runs it (CPU retry, re-configuration; ROS-free)
- keep_latest.py, stats.py: newest-cloud hand-over and counters (ROS-free)
"""
