"""Settings of the reliability tests: hypothesis profiles for the fuzzers.

CI runs the `ci` profile (a fixed budget of generated cases per fuzzer, derandomised so that a CI failure
reproduces). A longer search on demand: VN_FUZZ_EXAMPLES=20000 (cases per fuzzer, random seeds), e.g.
    VN_FUZZ_EXAMPLES=20000 .venv/bin/python -m pytest test/reliability -k fuzz
"""
import os
import sys
from pathlib import Path

from hypothesis import HealthCheck, settings

# the ROS helpers (confined harness, node subprocess) are shared with test/ros
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "ros"))

_COMMON = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                                      HealthCheck.filter_too_much], print_blob=True)
settings.register_profile("ci", derandomize=True, **_COMMON)
settings.register_profile("long", derandomize=False, **_COMMON)
settings.load_profile("long" if os.environ.get("VN_FUZZ_EXAMPLES") else "ci")


def fuzz_examples(ci_default):
    """Cases per fuzzer: $VN_FUZZ_EXAMPLES when set, else `ci_default`."""
    return int(os.environ.get("VN_FUZZ_EXAMPLES") or ci_default)


# ------------------------------------------------------------------------------------------ ROS fixtures
import pytest  # noqa: E402


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


def untrained_checkpoint(path):
    """Write a checkpoint of an untrained default network (3 classes) to `path`."""
    import torch
    from vn_perception.models.checkpoint import save_checkpoint
    from vn_perception.models.factory import DEFAULT_MODEL_CONFIG, build_model
    torch.manual_seed(0)
    config = dict(DEFAULT_MODEL_CONFIG, num_classes=3)
    return save_checkpoint(path, build_model(config), {
        "classes": ["box", "can", "mug"], "model_config": config, "symmetries": ["none", "continuous:z", "none"],
        "preprocessing": {"num_points": 512, "centering": "mean"}})
