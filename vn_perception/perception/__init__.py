"""Perception steps: segmentation of objects on a support surface (ROS-free).

`segmentation` (config, orchestration), `plane` (vectorised RANSAC + SVD refit, support polygon), `voxel`
(voxel-grid downsampling), `clustering` (image-grid / Euclidean components, crease-aware region growing,
statistical outliers), `merging` (a container's inside joined to its outside), `metrics` (IoU matching
against ground-truth masks), `synthetic` (ray-cast tabletop scenes with ground truth), `timing` (wall and
CPU seconds per stage).
"""
from vn_perception.perception.plane import Plane
from vn_perception.perception.segmentation import Cluster, SegmentationConfig, SegmentationResult, segment_objects

__all__ = ["Plane", "Cluster", "SegmentationConfig", "SegmentationResult", "segment_objects"]
