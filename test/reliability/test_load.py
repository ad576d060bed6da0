"""A 10-second load test of the node (vn_perception/tools/load_test.py): 3 topics x 30 Hz of 640 x 480
organized clouds. The node must survive, keep memory flat after its warm-up, keep latency bounded (it keeps
only the newest cloud per topic, so latency does not grow with the backlog), serve every topic and exit 0.

Run: bash scripts/ros-confined .venv/bin/python -m pytest test/reliability/test_load.py
"""
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from ros_harness import ros_allowed
from vn_perception.tools.load_test import format_report

TOPICS, RATE_HZ, DURATION_S = 3, 30.0, 10.0
#: steady-state memory growth allowed over the run (MB)
MAX_RSS_GROWTH_MB = 100.0
#: p95 end-to-end latency bound (s): keep-latest waits at most one frame per topic ahead of a cloud (about
#: 3 x 0.3-1 s on a loaded 2-core CPU); a queue that kept every cloud would reach the run's length (10 s)
MAX_P95_LATENCY_S = 5.0
#: a run takes ~15 s; past this the player process is stuck (below)
RUN_TIMEOUT_S = 150


def _run_load_test(model_path, folder):
    """The load test (`python -m vn_perception.tools.load_test`, synthetic tabletop) in its own process group:
    its report, or None when it did not finish within RUN_TIMEOUT_S. Why a process: once in ~10 CI runs the
    test's own rclpy process (the player, not the node) hung at shutdown, a Fast DDS thread spinning in
    `DomainParticipant::set_listener` while holding the GIL; in-process that stalls the whole suite."""
    report_path = folder / "report.json"
    command = [sys.executable, "-m", "vn_perception.tools.load_test", "--topics", str(TOPICS), "--rate", str(RATE_HZ),
               "--duration", str(DURATION_S), "--device", "cpu", "--cpu-threads", "1", "--synthetic",
               "--json", str(report_path), "--log-dir", str(folder)] + (["--model", model_path] if model_path else [])
    process = subprocess.Popen(command, start_new_session=True)
    try:
        process.wait(timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        return None
    return json.loads(report_path.read_text()) if report_path.is_file() else None


@pytest.mark.ros
def test_node_under_three_30hz_cameras(model_path, tmp_path):
    if not ros_allowed():
        pytest.skip("rclpy runs only confined: bash scripts/ros-confined .venv/bin/python -m pytest test/reliability")
    report = _run_load_test(model_path, tmp_path / "first")
    if report is None:                                # stuck player (see _run_load_test): one more try
        print(f"load test run did not finish in {RUN_TIMEOUT_S} s; running it again")
        report = _run_load_test(model_path, tmp_path / "second")
    assert report is not None, f"the load test did not finish twice; node log: {tmp_path}"
    print("\n" + format_report(report))
    log = Path(report["log"]).read_text()
    assert report["exit_status"] == 0, log
    assert "Traceback" not in log, log
    assert report["rss"]["growth_mb"] < MAX_RSS_GROWTH_MB
    assert report["latency_ms"]["p95"] < 1e3 * MAX_P95_LATENCY_S
    assert report["answered"] >= DURATION_S, "at least one cloud per second processed"
    for name, topic in report["per_topic"].items():
        assert topic["answered"] >= 2, f"{name} starved"
        # every cloud the node received was processed or dropped as stale (nothing queued, nothing lost)
        assert topic["answered"] + topic["dropped"] == topic["received"], topic
    assert report["diagnostics"]["failed_frames"] == "0" and report["diagnostics"]["malformed"] == "0"
