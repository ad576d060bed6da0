"""Injected faults: a camera that stops and restarts, a sim clock that jumps back (a bag loop), corrupt or
malicious model files at start-up, checkpoints carrying a pickle payload.

Already covered elsewhere (not repeated here): malformed clouds, invalid parameter changes, SIGINT/SIGTERM,
a missing model, target_frame without tf2_ros, the 30 Hz keep-latest stream (test/ros/test_node.py), the CPU
retry (test/ros/test_inference.py), missing / truncated / corrupt checkpoint files and a payload in the zip
format (test/models/test_checkpoint.py).

Run: bash scripts/ros-confined .venv/bin/python -m pytest test/reliability/test_faults.py
"""
import functools
import pickle
import threading
import time

import pytest
import torch

from ros_harness import NodeProcess, wait_until
from vn_perception.models.checkpoint import CheckpointError, load_checkpoint

FRAME = "fault_camera"
TOPIC = "/fault/points"


# ------------------------------------------------------------------------------------------ pickle payloads
class _CreateFile:
    """Unpickling this object would create `path` (a harmless but visible effect of executed code)."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _payload_checkpoint(path, marker, legacy):
    """A .pt file whose metadata unpickles to open(marker, "w"): torch's zip format, or a bare pickle."""
    payload = {"format": "vn_perception.checkpoint", "version": 1, "state_dict": {},
               "metadata": {"classes": ["a"], "symmetries": ["none"], "model_config": {},
                            "preprocessing": _CreateFile(marker)}}
    if legacy:
        with open(path, "wb") as f:
            pickle.dump(payload, f, protocol=2)
    else:
        torch.save(payload, path)
    assert str(marker).encode() in path.read_bytes(), "the file really carries the payload"
    return path


@pytest.mark.parametrize("legacy", [False, True], ids=["zip", "bare-pickle"])
def test_checkpoints_never_execute_code_on_load(tmp_path, legacy):
    marker = tmp_path / "payload_ran"
    path = _payload_checkpoint(tmp_path / "evil.pt", marker, legacy)
    with pytest.raises(CheckpointError, match="evil.pt"):
        load_checkpoint(path)
    assert not marker.exists(), "the pickle payload ran"
    # the same bytes really are a payload: plain unpickling runs it (so the refusal above is meaningful)
    if legacy:
        with open(path, "rb") as f:
            pickle.load(f)
        assert marker.exists()


@pytest.mark.ros
def test_corrupt_or_malicious_model_stops_the_node_naming_the_path(ros, model_path, tmp_path):
    from reliability_helpers import untrained_checkpoint
    good = untrained_checkpoint(tmp_path / "good.pt")
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    marker = tmp_path / "payload_ran"
    evil = _payload_checkpoint(tmp_path / "evil.pt", marker, legacy=False)
    cases = {"truncated": truncated, "pickle_payload": evil}
    processes = {name: NodeProcess(tmp_path / f"{name}.log", "-p", "device:=cpu", "-p", f"model_path:={path}")
                 for name, path in cases.items()}
    for name, process in processes.items():
        status = process.wait()
        log = process.log()
        process.stop()
        assert status == 1, f"{name}: exit status {status}\n{log}"
        assert "cannot start" in log and str(cases[name]) in log, f"{name}:\n{log}"
        assert "Traceback" not in log, f"{name}: the reason, not a traceback:\n{log}"
    assert not marker.exists(), "the node ran the checkpoint's pickle payload"


# ------------------------------------------------------------------------------------------ a running node
class SimClock:
    """Publishes rosgraph_msgs/Clock at 50 Hz: `base` + wall seconds since the last `set(base)`."""

    def __init__(self, ros, base):
        from rosgraph_msgs.msg import Clock
        self._Clock = Clock
        self._publisher = ros.node.create_publisher(Clock, "/clock", 10)
        self._lock = threading.Lock()
        self.set(base)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def set(self, base):
        with self._lock:
            self._base, self._t0 = float(base), time.monotonic()

    def now(self):
        with self._lock:
            return self._base + time.monotonic() - self._t0

    def _run(self):
        from builtin_interfaces.msg import Time
        while not self._stop.is_set():
            sec, frac = divmod(self.now(), 1.0)
            self._publisher.publish(self._Clock(clock=Time(sec=int(sec), nanosec=int(frac * 1e9))))
            time.sleep(0.02)

    def close(self):
        self._stop.set()
        self._thread.join(timeout=2)


@functools.lru_cache(maxsize=1)
def _scene():
    from vn_perception.tools.load_test import synthetic_scene
    return synthetic_scene(width=160, height=120, focal=130.0)


def _cloud(stamp_s):
    from builtin_interfaces.msg import Time
    from vn_perception.pointcloud import make_cloud
    sec, frac = divmod(stamp_s, 1.0)
    return make_cloud(_scene(), frame_id=FRAME,
                      stamp=Time(sec=int(sec), nanosec=int(round(frac * 1e9))))


def _answer(collector, publisher, cloud, timeout=60.0, resend_s=3.0):
    """The Detection3DArray with the cloud's stamp (the cloud re-sent every `resend_s` s: best effort)."""
    key = (cloud.header.stamp.sec, cloud.header.stamp.nanosec)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        publisher.publish(cloud)
        found = collector.wait_for(lambda m: (m.header.stamp.sec, m.header.stamp.nanosec) == key, resend_s)
        if found is not None:
            return found
    return None


@pytest.fixture(scope="module")
def sim_clock(ros):
    clock = SimClock(ros, base=100.0)
    yield clock
    clock.close()


@pytest.fixture(scope="module")
def node(ros, sim_clock, model_path, tmp_path_factory):
    args = ["-p", "device:=cpu", "-p", "cpu_threads:=1", "-p", "use_sim_time:=true", "-p", "min_score:=0.0",
            "-p", f"input_topics:=[{TOPIC}]"] + (["-p", f"model_path:={model_path}"] if model_path else [])
    process = NodeProcess(tmp_path_factory.mktemp("faults") / "node.log", *args)
    assert process.wait_log("detecting objects in"), f"the node did not start:\n{process.log()}"
    yield process
    status = process.stop()
    assert status == 0, process.log()
    assert "Traceback" not in process.log(), process.log()


@pytest.fixture(scope="module")
def io(ros, node):
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import PointCloud2
    from vision_msgs.msg import Detection3DArray
    detections = ros.collect(Detection3DArray, "/vn_perception/detections")
    diagnostics = ros.collect(DiagnosticArray, "/diagnostics")
    publisher = ros.publisher(PointCloud2, TOPIC, qos_profile_sensor_data)
    return detections, diagnostics, publisher


def _values(message):
    return {"message": message.status[0].message, **{kv.key: kv.value for kv in message.status[0].values}}


def _stamp_s(message):
    return message.header.stamp.sec + 1e-9 * message.header.stamp.nanosec


def _diagnostics_since(collector, since):
    return [(t, _values(m)) for t, m in list(collector.items) if t >= since and m.status
            and TOPIC in _values(m).get("input_topics", "")]


def test_camera_that_stops_and_restarts_is_answered_again(node, io, sim_clock):
    detections, diagnostics, publisher = io
    assert _answer(detections, publisher, _cloud(sim_clock.now())) is not None, node.log()
    # the camera stops: the node keeps reporting, with nothing received or processed
    pause_start = time.monotonic()
    time.sleep(3.5)
    during = _diagnostics_since(diagnostics, pause_start + 1.2)
    assert during, "diagnostics keep coming while the camera is silent"
    assert all(float(v["received_rate_hz"]) == 0 and float(v["processed_rate_hz"]) == 0 for _, v in during), during
    assert all(v["message"] == "0.0 clouds/s processed" for _, v in during), during
    # the camera restarts
    restart = time.monotonic()
    assert _answer(detections, publisher, _cloud(sim_clock.now())) is not None, node.log()
    after = wait_until(lambda: [v for _, v in _diagnostics_since(diagnostics, restart)
                                if float(v["processed_rate_hz"]) > 0], 5.0)
    assert after, "diagnostics show the clouds processed again"
    assert node.process.poll() is None


def test_clock_jumping_back_keeps_the_node_answering(node, io, sim_clock):
    detections, diagnostics, publisher = io
    sim_clock.set(200.0)
    for offset in (0.0, 1.0, 2.0):                          # the bag plays forward
        assert _answer(detections, publisher, _cloud(200.0 + offset + 0.5)) is not None, node.log()
        time.sleep(1.0)
    jump = time.monotonic()
    forward_s = sim_clock.now() - 200.0
    sim_clock.set(200.0)                                    # the bag loops: time goes back 2-3 s
    for offset in (0.0, 1.0, 2.0):                          # same seconds again, new stamps (+1 ns)
        cloud = _cloud(200.0 + offset + 0.5)
        cloud.header.stamp.nanosec += 1
        assert _answer(detections, publisher, cloud) is not None, f"no answer after the jump:\n{node.log()}"
        time.sleep(0.5)
    # diagnostics (a timer on the node's sim clock) keep coming after the jump
    assert wait_until(lambda: _diagnostics_since(diagnostics, jump + 1.0), 5.0), "diagnostics stopped"
    # their stamps (the node's clock) went back with /clock: about 200 s + time since the jump, not + forward_s
    after = [(t, _stamp_s(m)) for t, m in list(diagnostics.items) if t > jump + 1.0]
    assert forward_s > 2.5 and all(abs(s - (200.0 + t - jump)) < 0.5 for t, s in after), (forward_s, jump, after)
    assert node.process.poll() is None
    log = node.log()
    assert "Traceback" not in log and "failed" not in log, log
