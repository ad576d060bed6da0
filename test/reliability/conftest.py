"""Fixtures of the reliability tests (helpers: reliability_helpers.py; the ROS harness: test/ros/ros_harness.py).

Run: bash scripts/ros-confined .venv/bin/python -m pytest test/reliability   (the ROS tests skip unconfined)
"""
import os
import sys
from pathlib import Path

import pytest

# the ROS helpers (confined harness, node subprocess) are shared with test/ros
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ros"))

from reliability_helpers import untrained_checkpoint  # noqa: E402


# ------------------------------------------------------------------------------------------ ROS fixtures
@pytest.fixture(scope="module")
def ros():
    """A confined rclpy test node (test/ros/ros_harness.py); skips outside scripts/ros-confined."""
    from ros_harness import RosHarness, ros_allowed
    if not ros_allowed():
        pytest.skip("rclpy runs only confined: bash scripts/ros-confined .venv/bin/python -m pytest test/reliability")
    harness = RosHarness()
    yield harness
    harness.close()


@pytest.fixture(scope="session")
def model_path(tmp_path_factory):
    """$VN_TEST_MODEL, else '' (the shipped model) when it exists, else an untrained 3-class checkpoint."""
    from vn_perception.classifier import DEFAULT_MODEL_PATH
    if os.environ.get("VN_TEST_MODEL"):
        return os.environ["VN_TEST_MODEL"]
    if DEFAULT_MODEL_PATH.exists():
        return ""
    return str(untrained_checkpoint(tmp_path_factory.mktemp("model") / "untrained.pt"))
