"""Live evaluation: the real node (`vn_perception_node`) as a subprocess, a bag played into it, its answers.

    node = NodeProcess(log_path, cloud_topic="/camera/depth/points", model_path="", device="auto")
    result = play_into_node(bag, node)            # LiveResult: publish times, answers by stamp
    node.stop()

The bag's clouds (and its /clock; synthesised from the cloud stamps when the bag has none) are published with
rclpy at the recorded rate (scaled by `rate`), as raw CDR straight from the bag. The node runs with
`use_sim_time:=true`. What it publishes on its detections topic is recorded (raw, with the arrival time) and
paired with the published cloud by `header.stamp`; latency = arrival wall time - publish wall time (one clock,
`time.monotonic`, in this process). The node keeps only the newest cloud, so frames it is too slow for go
unanswered: `LiveResult.answers` lacks their stamps.

rclpy is imported only here, inside the functions; the process must run confined (scripts/ros-confined).
"""
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from vn_perception.bag import (CLOCK_TOPIC, CLOUD_TOPIC, DETECTIONS_TOPIC, bag_topics, object_poses,
                               project_typestore, raw_messages, stamp_to_ns)

#: the environment variable scripts/ros-confined sets inside its private network namespace
CONFINED_ENV = "VN_ROS_CONFINED"
#: time for the node to start (import torch, load the model) and its topics to match, on a loaded 2-core machine
NODE_START_TIMEOUT_S = 120.0
#: after the last cloud, how long to wait for answers still to come (reset by each answer)
DRAIN_TIMEOUT_S = 5.0
#: queue depth of the player's publishers and of the detections subscription
QUEUE_DEPTH = 10
_POLL_S = 0.01


class LiveError(RuntimeError):
    """The live run could not be carried out (node did not start, topics did not match); says why."""


def confinement_problem(allow_unconfined=False):
    """None when rclpy may start here, else the message saying how to run confined."""
    if os.environ.get(CONFINED_ENV) == "1" or allow_unconfined:
        return None
    return ("live mode starts rclpy and the node; run it confined: bash scripts/ros-confined "
            ".venv/bin/vn-perception bag-eval --live ... (or pass --allow-unconfined to run on the host network)")


class NodeProcess:
    """`vn_perception_node` as a subprocess with sim time, reading `cloud_topic`; output to `log_path`."""

    def __init__(self, log_path, cloud_topic=CLOUD_TOPIC, model_path="", device="auto", min_score=None,
                 extra_parameters=None):
        executable = shutil.which("vn_perception_node", path=str(Path(sys.executable).parent))
        command = [executable] if executable else [sys.executable, "-m", "vn_perception.ros.node"]
        # an empty value (`model_path:=`) is not parsable by rcl: leave the parameter out for the shipped model
        parameters = {"use_sim_time": "true", "input_topics": f"[{cloud_topic}]", "device": device,
                      "publish_markers": "false", **({"model_path": str(model_path)} if model_path else {}),
                      **(extra_parameters or {})}
        if min_score is not None:
            parameters["min_score"] = repr(float(min_score))
        ros_args = [arg for name, value in parameters.items() for arg in ("-p", f"{name}:={value}")]
        self.log_path = Path(log_path)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "w")
        env = dict(os.environ, PYTHONUNBUFFERED="1", RCUTILS_COLORIZED_OUTPUT="0")
        self.process = subprocess.Popen(command + ["--ros-args", *ros_args], env=env, stdout=self._log,
                                        stderr=subprocess.STDOUT)

    def alive(self):
        return self.process.poll() is None

    def log(self):
        return self.log_path.read_text() if self.log_path.is_file() else ""

    def stop(self, timeout_s=30.0):
        """SIGINT, then SIGKILL after `timeout_s`; returns the exit status."""
        if self.alive():
            self.process.send_signal(signal.SIGINT)
        try:
            status = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            status = self.process.wait()
        self._log.close()
        return status


@dataclass
class LiveAnswer:
    """The node's answer to one cloud: `predictions` (ObjectPoses), `latency_s` (arrival - publish)."""

    stamp_ns: int
    latency_s: float
    predictions: list


@dataclass
class LiveResult:
    """`published`: {cloud stamp ns: publish time (monotonic s)}; `answers`: {stamp ns: LiveAnswer}."""

    published: dict = field(default_factory=dict)
    answers: dict = field(default_factory=dict)

    @property
    def unanswered(self):
        return [s for s in self.published if s not in self.answers]


def _wait_until(predicate, timeout_s):
    deadline = time.monotonic() + timeout_s
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(_POLL_S)
    return True


@contextmanager
def spinning_node(name):
    """A private rclpy context with one node, spun by an executor in a daemon thread once `start()` is called.

    Yields `(node, start)`; on exit the executor, the node and the context are shut down. (rclpy is imported here:
    the caller must run confined.)"""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    context = rclpy.Context()
    rclpy.init(context=context)
    node = rclpy.create_node(name, context=context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    try:
        yield node, spinner.start
    finally:
        executor.shutdown()
        if spinner.is_alive():          # the spin loop ends before its node goes (no destroy under a running wait)
            spinner.join(timeout=5.0)
        node.destroy_node()
        rclpy.try_shutdown(context=context)


def play_into_node(bag, node, cloud_topic=CLOUD_TOPIC, clock_topic=CLOCK_TOPIC, detections_topic=DETECTIONS_TOPIC,
                   rate=1.0, start_timeout_s=NODE_START_TIMEOUT_S, drain_timeout_s=DRAIN_TIMEOUT_S, progress=None):
    """Play `bag` into the running `node` (NodeProcess) and collect its answers -> LiveResult.

    `rate` scales the playback speed (1 = as recorded); `progress(n)` is called after each published cloud."""
    from builtin_interfaces.msg import Time
    from rclpy.qos import QoSProfile, ReliabilityPolicy
    from rclpy.serialization import deserialize_message
    from rosgraph_msgs.msg import Clock
    from sensor_msgs.msg import PointCloud2
    from vision_msgs.msg import Detection3DArray

    typestore = project_typestore()
    has_clock = clock_topic in bag_topics(bag)
    received, lock = [], threading.Lock()

    def on_detections(raw):
        arrival = time.monotonic()
        with lock:
            received.append((arrival, raw))

    with spinning_node("vn_bag_eval_player") as (player, start_spinning):
        cloud_pub = player.create_publisher(PointCloud2, cloud_topic,
                                            QoSProfile(depth=QUEUE_DEPTH, reliability=ReliabilityPolicy.RELIABLE))
        clock_pub = player.create_publisher(Clock, clock_topic, QUEUE_DEPTH)
        subscription = player.create_subscription(Detection3DArray, detections_topic, on_detections, QUEUE_DEPTH,
                                                  raw=True)
        start_spinning()
        ready = _wait_until(lambda: not node.alive() or (cloud_pub.get_subscription_count() > 0
                                                         and subscription.get_publisher_count() > 0), start_timeout_s)
        if not ready or not node.alive():
            raise LiveError(f"the node did not subscribe to {cloud_topic} / publish {detections_topic} within "
                            f"{start_timeout_s:.0f} s; its log ({node.log_path}):\n{node.log()[-2000:]}")
        result = LiveResult()
        start_wall = bag_start = None
        for topic, msgtype, time_ns, raw in raw_messages(bag, [cloud_topic, clock_topic]):
            if start_wall is None:
                start_wall, bag_start = time.monotonic(), time_ns
            time.sleep(max(0.0, start_wall + (time_ns - bag_start) * 1e-9 / rate - time.monotonic()))
            if topic == clock_topic:
                clock_pub.publish(raw)
                continue
            stamp = stamp_to_ns(typestore.deserialize_cdr(raw, msgtype).header.stamp)
            if not has_clock:
                sec, nanosec = divmod(stamp, 1_000_000_000)
                clock_pub.publish(Clock(clock=Time(sec=sec, nanosec=nanosec)))
            result.published[stamp] = time.monotonic()
            cloud_pub.publish(raw)
            if progress:
                progress(1)
        # drain: wait while answers keep coming, until every cloud is answered
        seen = -1
        while True:
            with lock:
                count = len(received)
            if count >= len(result.published) or count == seen:
                break
            seen = count
            _wait_until(lambda: len(received) > seen, drain_timeout_s)
    for arrival, raw in received:
        msg = deserialize_message(raw, Detection3DArray)
        stamp = stamp_to_ns(msg.header.stamp)
        if stamp in result.published and stamp not in result.answers:
            result.answers[stamp] = LiveAnswer(stamp, arrival - result.published[stamp], object_poses(msg))
    return result
