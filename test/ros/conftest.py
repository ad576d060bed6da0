"""Fixtures of the ROS tests (helpers: ros_harness.py).

rclpy runs only inside a private network namespace (scripts/ros-confined sets VN_ROS_CONFINED=1); elsewhere
the tests that need it skip. Run: bash scripts/ros-confined .venv/bin/python -m pytest test/ros
"""
import os

import numpy as np
import pytest

from ros_harness import YCBV_DEV, RosHarness, ros_allowed
from vn_perception.classifier import DEFAULT_MODEL_PATH


@pytest.fixture(scope="module")
def ros():
    if not ros_allowed():
        pytest.skip("rclpy runs only confined: bash scripts/ros-confined .venv/bin/python -m pytest test/ros")
    harness = RosHarness()
    yield harness
    harness.close()


@pytest.fixture(scope="session")
def ycbv_dev():
    if not YCBV_DEV.exists():
        pytest.skip(f"real frames not found: {YCBV_DEV} (the shared data folder)")
    with np.load(YCBV_DEV) as data:
        return {key: data[key] for key in ("depth", "K", "depth_scale_m", "class_names")}


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    """$VN_TEST_MODEL when set (a checkpoint to test with); else '' (the shipped model) when it exists; until
    then a checkpoint of an untrained classifier with the YCB-Video classes, so the node runs its full path."""
    if os.environ.get("VN_TEST_MODEL"):
        return os.environ["VN_TEST_MODEL"]
    if DEFAULT_MODEL_PATH.exists():
        return ""
    from vn_perception.data.ycbv import YCBV_SYMMETRIES
    from vn_perception.models.checkpoint import save_checkpoint
    from vn_perception.models.factory import DEFAULT_MODEL_CONFIG, build_model
    classes = sorted(YCBV_SYMMETRIES)
    config = dict(DEFAULT_MODEL_CONFIG, num_classes=len(classes))
    path = tmp_path_factory.mktemp("model") / "untrained.pt"
    save_checkpoint(path, build_model(config), {
        "classes": classes, "model_config": config,
        "symmetries": [YCBV_SYMMETRIES[c] for c in classes],
        "preprocessing": {"num_points": 512, "centering": "mean"}})
    return str(path)
