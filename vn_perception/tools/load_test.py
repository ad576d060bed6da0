"""Load test of the node: N camera topics at R Hz of 640 x 480 organized clouds for D seconds.

    bash scripts/ros-confined .venv/bin/python -m vn_perception.tools.load_test --topics 3 --rate 30 --duration 60

Starts `vn_perception_node` as a subprocess (`evaluation.live.NodeProcess`, wall-clock time), publishes the
same 640 x 480 organized cloud on `--topics` topics (`load{i}/points`, sensor-data QoS as a camera driver,
frame `load{i}`) at `--rate` Hz each, each message with a unique stamp, and reports:

- published / answered clouds per topic, processed rate (answers per second of publishing);
- end-to-end latency (cloud published -> its Detection3DArray received, one monotonic clock) p50 / p95 / max;
- the node's RSS (VmRSS of /proc/<pid>/status) when ready, after a warm-up (WARMUP_S of load), at the end,
  its peak, and the growth from the warm-up to the end (what a leak would show);
- received / dropped / malformed / failed counts from the node's last /diagnostics;
- the node's exit status after SIGINT (0 = clean shutdown).

The cloud: a real YCB-Video frame (`--frames`, default the shared dev set when present), else a synthetic
tabletop (a table seen from 1 m with boxes on it). `--json PATH` writes the report. rclpy is imported only
inside `run_load_test`; run it confined (scripts/ros-confined).
"""
import argparse
import json
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

__all__ = ["run_load_test", "synthetic_scene", "node_rss_mb", "main"]

#: the shared real frames used as the published cloud when present
DEFAULT_FRAMES = Path(__file__).resolve().parents[3] / "shared" / "data" / "real_dev" / "ycbv_real_dev.npz"
WIDTH, HEIGHT = 640, 480
#: RSS growth is measured from this many seconds into the load (first frames allocate the pipeline's and the
#: DDS buffers once) to the end; shorter runs use a third of the duration
WARMUP_S = 5.0
#: after the last cloud, how long to wait for the answers still in flight (seconds)
DRAIN_S = 5.0


def synthetic_scene(seed=0, width=WIDTH, height=HEIGHT, focal=525.0):
    """(height, width, 3) float32 organized cloud (metres, NaN = no return): a table seen from 1 m at 45
    degrees with four boxes on it, the nearest point per pixel of a pinhole camera."""
    rng = np.random.default_rng(seed)
    table = np.c_[rng.uniform(-0.45, 0.45, (600_000, 2)), np.zeros(600_000)]
    parts = [table]
    for centre in ([-0.2, -0.1], [0.0, 0.15], [0.15, -0.15], [0.25, 0.1]):
        size = rng.uniform(0.05, 0.12, 3)
        parts.append(np.r_[centre, 0.0] + rng.uniform(0, 1, (60_000, 3)) * size)
    points = np.concatenate(parts)
    c = np.sqrt(0.5)                                        # table frame -> camera optical frame
    points = points @ np.array([[1, 0, 0], [0, c, -c], [0, -c, -c]]).T + [0, 0, 1.0]
    u = np.round(focal * points[:, 0] / points[:, 2] + width / 2).astype(int)
    v = np.round(focal * points[:, 1] / points[:, 2] + height / 2).astype(int)
    inside = (u >= 0) & (u < width) & (v >= 0) & (v < height)
    pixel, points = (v * width + u)[inside], points[inside]
    order = np.lexsort((points[:, 2], pixel))               # by pixel, nearest first
    first = order[np.unique(pixel[order], return_index=True)[1]]
    image = np.full((height * width, 3), np.nan, dtype=np.float32)
    image[pixel[first]] = points[first]
    return image.reshape(height, width, 3)


def real_frame(path, index=0):
    """Organized (480, 640, 3) float32 cloud of a YCB-Video dev frame (depth x scale back-projected; 0 -> NaN)."""
    from vn_perception.data.camera import PinholeCamera
    with np.load(path) as data:
        depth = data["depth"][index].astype(np.float32) * float(data["depth_scale_m"])
        K = data["K"][index]
    return PinholeCamera.from_K(K, depth.shape[1], depth.shape[0]).back_project(depth).astype(np.float32)


def node_rss_mb(pid):
    """Resident set size (MB) of process `pid` from /proc/<pid>/status (None once it ended)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        return None
    return None


def _percentile(values, q):
    return float(np.percentile(values, q)) if values else None


def run_load_test(topics=3, rate_hz=30.0, duration_s=60.0, model_path="", device="cpu", cpu_threads=0,
                  points=None, log_dir=None, progress=print):
    """Run the load test (see the module doc) and return its report (a JSON-able dict)."""
    from builtin_interfaces.msg import Time
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.qos import qos_profile_sensor_data
    from sensor_msgs.msg import PointCloud2
    from vision_msgs.msg import Detection3DArray

    from vn_perception.evaluation.live import NodeProcess, spinning_node
    from vn_perception.pointcloud import make_cloud

    points = synthetic_scene() if points is None else points
    names = [f"load{i}" for i in range(topics)]
    log_dir = Path(log_dir or tempfile.mkdtemp(prefix="vn_load_"))
    node = NodeProcess(log_dir / "node.log", cloud_topic=f"{names[0]}/points", model_path=model_path,
                       device=device, extra_parameters={
                           "use_sim_time": "false", "publish_markers": "true", "cpu_threads": str(cpu_threads),
                           "min_score": "0.0",
                           "input_topics": "[" + ", ".join(f"{n}/points" for n in names) + "]"})
    answers, diagnostics, lock = {}, [], threading.Lock()

    def on_detections(msg):
        arrival = time.monotonic()
        with lock:
            answers.setdefault((msg.header.frame_id, msg.header.stamp.sec), arrival)

    def on_diagnostics(msg):
        values = {kv.key: kv.value for kv in msg.status[0].values} if msg.status else {}
        if "load0/points" in values.get("input_topics", ""):
            with lock:
                diagnostics.append(values)

    report = {"topics": topics, "rate_hz": rate_hz, "duration_s": duration_s, "cloud": list(points.shape),
              "log": str(node.log_path)}
    try:
        with spinning_node("vn_load_test") as (player, start_spinning):
            player.create_subscription(Detection3DArray, "/vn_perception/detections", on_detections, 100)
            player.create_subscription(DiagnosticArray, "/diagnostics", on_diagnostics, 10)
            publishers = [player.create_publisher(PointCloud2, f"/{n}/points", qos_profile_sensor_data) for n in names]
            start_spinning()
            deadline = time.monotonic() + 180.0
            while not ("detecting objects in" in node.log() and all(p.get_subscription_count() for p in publishers)):
                if not node.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"the node did not start; its log ({node.log_path}):\n{node.log()[-2000:]}")
                time.sleep(0.05)
            time.sleep(1.0)                                           # let discovery settle on every side
            pid = node.process.pid
            rss = {"start_mb": node_rss_mb(pid)}
            peak = rss["start_mb"]
            messages = [make_cloud(points, frame_id=n) for n in names]
            published = {}
            count = int(round(rate_hz * duration_s))
            progress(f"node ready (pid {pid}, RSS {rss['start_mb']:.0f} MB); publishing {topics} x {count} clouds")
            start = time.monotonic()
            next_rss, warmup_end = start + 1.0, start + min(WARMUP_S, duration_s / 3)
            for k in range(count):
                for name, publisher, message in zip(names, publishers, messages):
                    message.header.stamp = Time(sec=1000 + k)
                    published[(name, 1000 + k)] = time.monotonic()
                    publisher.publish(message)
                now = time.monotonic()
                if "warm_mb" not in rss and now >= warmup_end:
                    rss["warm_mb"] = node_rss_mb(pid)
                if now >= next_rss:
                    peak = max(peak, node_rss_mb(pid) or 0.0)
                    next_rss = now + 1.0
                time.sleep(max(0.0, start + (k + 1) / rate_hz - time.monotonic()))
            publish_s = time.monotonic() - start
            drain_end = time.monotonic() + DRAIN_S
            while time.monotonic() < drain_end:
                with lock:
                    done = all((n, 1000 + count - 1) in answers for n in names)
                if done:
                    break
                time.sleep(0.05)
            time.sleep(1.2)                                           # one more diagnostics period
            rss["end_mb"] = node_rss_mb(pid)
            rss["peak_mb"] = max(peak, rss["end_mb"] or 0.0)
            rss.setdefault("warm_mb", rss["start_mb"])
            rss["growth_mb"] = rss["end_mb"] - rss["warm_mb"]
    finally:
        report["exit_status"] = node.stop()

    with lock:
        latencies = [answers[key] - t for key, t in published.items() if key in answers]
        last = dict(diagnostics[-1]) if diagnostics else {}
        per_topic = {n: {"published": count, "answered": sum((n, 1000 + k) in answers for k in range(count))}
                     for n in names}
    for n in names:
        per_topic[n]["received"] = int(last.get(f"received {n}/points", last.get("received", -1)))
        per_topic[n]["dropped"] = int(last.get(f"dropped {n}/points", last.get("dropped", -1)))
    report.update(
        publish_s=publish_s, published=count * topics, answered=len(latencies),
        processed_rate_hz=len(latencies) / publish_s, per_topic=per_topic,
        latency_ms={"p50": 1e3 * _percentile(latencies, 50) if latencies else None,
                    "p95": 1e3 * _percentile(latencies, 95) if latencies else None,
                    "max": 1e3 * max(latencies) if latencies else None},
        rss=rss, diagnostics={k: last.get(k) for k in ("received", "dropped", "processed", "malformed",
                                                        "failed_frames", "inference_failures", "latency_median_ms",
                                                        "device")})
    return report


def format_report(report):
    """Human-readable summary of a `run_load_test` report."""
    lat, rss = report["latency_ms"], report["rss"]
    fmt = lambda v: "-" if v is None else f"{v:.0f}"   # noqa: E731
    lines = [f"load test: {report['topics']} topics x {report['rate_hz']:g} Hz x {report['duration_s']:g} s of "
             f"{report['cloud'][0]} x {report['cloud'][1]} organized clouds",
             f"  published {report['published']} in {report['publish_s']:.1f} s; answered {report['answered']} "
             f"({report['processed_rate_hz']:.1f} Hz)",
             f"  latency p50 {fmt(lat['p50'])} ms, p95 {fmt(lat['p95'])} ms, max {fmt(lat['max'])} ms",
             f"  node RSS ready {fmt(rss['start_mb'])} MB, warm {fmt(rss['warm_mb'])} MB, "
             f"end {fmt(rss['end_mb'])} MB, peak {fmt(rss['peak_mb'])} MB "
             f"(growth warm -> end {rss['growth_mb']:+.1f} MB)"]
    for name, t in report["per_topic"].items():
        lines.append(f"  {name}: published {t['published']}, node received {t['received']}, dropped {t['dropped']}, "
                     f"answered {t['answered']}")
    d = report["diagnostics"]
    lines.append(f"  diagnostics: processed {d['processed']}, malformed {d['malformed']}, failed frames "
                 f"{d['failed_frames']}, inference failures {d['inference_failures']}, device {d['device']}")
    lines.append(f"  exit status after SIGINT: {report['exit_status']}")
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--topics", type=int, default=3, help="camera topics (default 3)")
    parser.add_argument("--rate", type=float, default=30.0, help="clouds per second per topic (default 30)")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds of publishing (default 60)")
    parser.add_argument("--model", default="", help="classifier checkpoint ('' = the shipped model)")
    parser.add_argument("--device", default="cpu", help="auto | cpu | cuda (default cpu)")
    parser.add_argument("--cpu-threads", type=int, default=0, help="the node's cpu_threads parameter")
    parser.add_argument("--frames", default=str(DEFAULT_FRAMES),
                        help="YCB-Video dev frames (.npz) for the cloud; absent: a synthetic tabletop")
    parser.add_argument("--synthetic", action="store_true", help="publish the synthetic tabletop")
    parser.add_argument("--json", default=None, help="write the report here")
    parser.add_argument("--log-dir", default=None, help="folder of the node's log (default: a temporary one)")
    parser.add_argument("--allow-unconfined", action="store_true", help="run rclpy outside scripts/ros-confined")
    args = parser.parse_args(argv)
    if args.topics < 1 or args.rate <= 0 or args.duration <= 0:
        parser.error("--topics >= 1, --rate > 0 and --duration > 0")
    from vn_perception.evaluation.live import confinement_problem
    if confinement_problem(args.allow_unconfined):
        print("the load test starts rclpy and the node; run it confined: bash scripts/ros-confined "
              ".venv/bin/python -m vn_perception.tools.load_test ... (or pass --allow-unconfined to run on the "
              "host network)", file=sys.stderr)
        return 2
    frames = Path(args.frames)
    points = synthetic_scene() if args.synthetic or not frames.is_file() else real_frame(frames)
    report = run_load_test(args.topics, args.rate, args.duration, args.model, args.device, args.cpu_threads, points,
                           args.log_dir)
    print(format_report(report))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2))
    return 0 if report["exit_status"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
