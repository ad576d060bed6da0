"""Default topic and frame names of the bags the project writes (simulate) and reads (bag-eval)."""

#: organized sensor_msgs/PointCloud2 of the depth camera
CLOUD_TOPIC = "/camera/depth/points"
#: vision_msgs/Detection3DArray ground truth, stamped like the clouds
GT_TOPIC = "/ground_truth/detections"
#: rosgraph_msgs/Clock (simulated time for `use_sim_time`)
CLOCK_TOPIC = "/clock"
#: what the node publishes (`~/detections` of the node `vn_perception`)
DETECTIONS_TOPIC = "/vn_perception/detections"
#: the depth camera's optical frame (x right, y down, z forward)
CAMERA_FRAME = "camera_depth_optical_frame"
