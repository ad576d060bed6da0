"""vn_perception: pose-invariant object recognition from depth clouds with Vector Neuron networks.

Layout (one folder per concept):
  vn/          Vector Neuron layers (SO(3)-equivariant building blocks), tensors [B, C, 3, N, ...]
  models/      encoders (fast VN, VN-PointNet, VN-DGCNN), baselines, heads, checkpoints
  data/        object catalogs, synthetic depth views, cached data sets
  training/    train / evaluate
  perception/  segmentation of objects on a support surface
  pointcloud   sensor_msgs/PointCloud2 <-> numpy (read_xyz, make_cloud)
  classifier   ObjectClassifier: the public inference API
  pipeline     ScenePipeline: cloud -> detections (ROS-free)
  ros/         the ROS 2 node (thin glue: messages in, core call, messages out)
"""
__version__ = "0.1.0"
