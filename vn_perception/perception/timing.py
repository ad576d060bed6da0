"""Seconds per named stage, wall-clock and CPU, for the per-frame timings of segmentation and the pipeline.

    clock = StageClock()
    ...; clock.lap("crop")          # the time since the previous lap (or the start) goes to "crop"
    clock.total()                   # adds "total"; clock.timings (wall), clock.cpu_timings (CPU) in seconds

Wall time is `time.perf_counter`; CPU time is `time.process_time`, the CPU of every thread of the process
(torch's intra-op threads included), which on a loaded machine says what a stage costs when wall time
says mostly how long it waited for a core.
"""
import time

__all__ = ["StageClock"]


class StageClock:
    """Wall (`timings`) and CPU (`cpu_timings`) seconds per named stage."""

    def __init__(self):
        self.timings, self.cpu_timings = {}, {}
        self._start = self._last = (time.perf_counter(), time.process_time())

    def lap(self, stage):
        """Book the time since the previous lap (or the start) to `stage`."""
        now = (time.perf_counter(), time.process_time())
        self.timings[stage], self.cpu_timings[stage] = now[0] - self._last[0], now[1] - self._last[1]
        self._last = now

    def total(self):
        """Add "total" (since the start) and return the wall timings."""
        now = (time.perf_counter(), time.process_time())
        self.timings["total"], self.cpu_timings["total"] = now[0] - self._start[0], now[1] - self._start[1]
        return self.timings
