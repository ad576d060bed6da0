"""Counters and latencies of the node, summarised once per diagnostics period (ROS-free, thread-safe).

    stats = NodeStats()
    stats.add("processed"); stats.add_latency(0.042)     # from the worker
    values = stats.summary(received=120, dropped=30)     # from the 1 Hz timer: totals, rates, latency
"""
import threading
import time

__all__ = ["NodeStats", "COUNTERS"]

#: every counter the node keeps (all start at 0)
COUNTERS = ("processed", "detections", "malformed", "tf_unavailable", "inference_failures", "cpu_retries",
            "failed_frames")


class NodeStats:
    """Totals of COUNTERS, plus per-period rates and latencies (seconds, from reception to publication)."""

    def __init__(self, clock=time.monotonic):
        self._clock = clock
        self._lock = threading.Lock()
        self.totals = {name: 0 for name in COUNTERS}
        self._latencies = []
        self._last_time = clock()
        self._last_counts = {"received": 0, "processed": 0, "dropped": 0}

    def add(self, counter, amount=1):
        with self._lock:
            self.totals[counter] += amount

    def add_latency(self, seconds):
        with self._lock:
            self._latencies.append(float(seconds))

    def summary(self, received, dropped):
        """Totals, rates (per second, since the previous summary) and the period's latency (ms).

        received / dropped: totals over all inputs (kept by the keep-latest slots).
        """
        with self._lock:
            now = self._clock()
            period = max(now - self._last_time, 1e-9)
            counts = {"received": received, "processed": self.totals["processed"], "dropped": dropped}
            rates = {f"{name}_rate_hz": (counts[name] - self._last_counts[name]) / period for name in counts}
            latencies, self._latencies = sorted(self._latencies), []
            self._last_time, self._last_counts = now, counts
            values = {"received": received, "dropped": dropped, **self.totals, **rates}
        if latencies:
            values["latency_mean_ms"] = 1e3 * sum(latencies) / len(latencies)
            values["latency_median_ms"] = 1e3 * latencies[len(latencies) // 2]
            values["latency_max_ms"] = 1e3 * latencies[-1]
        return values
