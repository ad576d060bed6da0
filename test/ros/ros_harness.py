"""Helpers of the ROS tests: a confined rclpy harness, the node as a subprocess, real clouds.

rclpy runs only inside a private network namespace (scripts/ros-confined sets VN_ROS_CONFINED=1); elsewhere
the tests that need it skip. Run: bash scripts/ros-confined .venv/bin/python -m pytest test/ros
"""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
YCBV_DEV = ROOT.parent / "shared" / "data" / "real_dev" / "ycbv_real_dev.npz"
#: time allowed for a node to start (import torch, load the model) on a loaded 2-core machine
NODE_START_TIMEOUT_S = 90.0


def ros_allowed():
    return os.environ.get("VN_ROS_CONFINED") == "1" or os.environ.get("VN_ALLOW_UNCONFINED") == "1"


def wait_until(predicate, timeout, period=0.01):
    """Poll `predicate` until it is truthy (returns its value) or `timeout` s pass (returns the last value)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(period)


class Collector:
    """Messages received on one topic, with their arrival time (time.monotonic())."""

    def __init__(self):
        self._lock = threading.Lock()
        self.items = []

    def __call__(self, msg):
        with self._lock:
            self.items.append((time.monotonic(), msg))

    @property
    def messages(self):
        with self._lock:
            return [msg for _, msg in self.items]

    def wait_for(self, predicate=lambda msg: True, timeout=30.0):
        """The first message satisfying `predicate` (None after `timeout` s)."""
        found = wait_until(lambda: next((m for m in self.messages if predicate(m)), None), timeout)
        return found

    def clear(self):
        with self._lock:
            self.items.clear()


class RosHarness:
    """A test node spinning in a background thread, in its own rclpy context."""

    def __init__(self):
        import rclpy
        from rclpy.executors import SingleThreadedExecutor
        self.context = rclpy.Context()
        rclpy.init(context=self.context)
        self.node = rclpy.create_node(f"vn_test_{uuid.uuid4().hex[:8]}", context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self._thread = threading.Thread(target=self.executor.spin, daemon=True)
        self._thread.start()

    def collect(self, msg_type, topic, qos=10):
        collector = Collector()
        self.node.create_subscription(msg_type, topic, collector, qos)
        return collector

    def publisher(self, msg_type, topic, qos=10, subscribers=1, timeout=30.0):
        """A publisher, once `subscribers` subscriptions matched (fails after `timeout` s)."""
        publisher = self.node.create_publisher(msg_type, topic, qos)
        matched = wait_until(lambda: publisher.get_subscription_count() >= subscribers, timeout)
        assert matched, f"no subscriber matched {topic} within {timeout} s"
        return publisher

    def call(self, srv_type, name, request, timeout=30.0):
        client = self.node.create_client(srv_type, name)
        assert client.wait_for_service(timeout_sec=timeout), f"service {name} not available"
        future = client.call_async(request)
        assert wait_until(future.done, timeout), f"service {name} did not answer"
        self.node.destroy_client(client)
        return future.result()

    def close(self):
        import rclpy
        self.executor.shutdown()
        self.node.destroy_node()
        rclpy.try_shutdown(context=self.context)


class NodeProcess:
    """vn_perception_node started as a subprocess (exec'd directly, so SIGINT reaches it), output to a log."""

    def __init__(self, log_path, *ros_args):
        executable = shutil.which("vn_perception_node", path=str(Path(sys.executable).parent))
        command = [executable] if executable else [sys.executable, "-m", "vn_perception.ros.node"]
        self.log_path = Path(log_path)
        self._log = open(self.log_path, "w")
        env = dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_LOGGING_BUFFERED_STREAM="0",
                   RCUTILS_COLORIZED_OUTPUT="0")
        self.process = subprocess.Popen(command + ["--ros-args", *ros_args], cwd=ROOT, env=env,
                                        stdout=self._log, stderr=subprocess.STDOUT)

    def log(self):
        return self.log_path.read_text()

    def wait_log(self, text, timeout=NODE_START_TIMEOUT_S):
        """True once `text` appears in the output (False on timeout or when the process ended without it)."""
        return wait_until(lambda: text in self.log() or self.process.poll() is not None, timeout) \
            and text in self.log()

    def wait(self, timeout=NODE_START_TIMEOUT_S):
        """Exit status once the process ended by itself (None on timeout)."""
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, sig=signal.SIGINT, timeout=30.0):
        """Send `sig`; the exit status (killed and -9 after `timeout` s)."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
        try:
            status = self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        self._log.close()
        return status


def ycbv_points(ycbv_dev, index):
    """Organized (480, 640, 3) float32 cloud of real frame `index`: depth x scale, back-projected with K,
    no reading (0) -> NaN."""
    from vn_perception.data.camera import PinholeCamera
    depth = ycbv_dev["depth"][index].astype(np.float32) * float(ycbv_dev["depth_scale_m"])
    height, width = depth.shape
    return PinholeCamera.from_K(ycbv_dev["K"][index], width, height).back_project(depth)
