"""Keep-latest hand-over between subscription callbacks and the inference worker (ROS-free, thread-safe).

Callbacks `put` and return at once (never wait for inference); each source keeps only its newest item, and
an item replaced before the worker took it counts as dropped. The worker `take`s the newest item of each
source in turn (round robin), so one fast camera cannot starve another.

    slots = LatestSlots(["cam0/points", "cam1/points"])
    slots.put("cam0/points", msg)              # in a callback
    item = slots.take(timeout=0.5)             # in the worker: Item(source, value, received) or None
"""
import threading
import time
from dataclasses import dataclass

__all__ = ["Item", "LatestSlots"]


@dataclass(frozen=True)
class Item:
    """One stored value: its `source`, the `value`, and `received` (time.monotonic() at put)."""
    source: str
    value: object
    received: float


class LatestSlots:
    """One slot per source holding its newest item; counts items received and dropped per source."""

    def __init__(self, sources):
        self._sources = list(sources)
        self._slots = {source: None for source in self._sources}
        self.received = {source: 0 for source in self._sources}
        self.dropped = {source: 0 for source in self._sources}
        self._next = 0
        self._closed = False
        self._changed = threading.Condition()

    def put(self, source, value):
        """Store `value` as the newest of `source`; returns True when it replaced an item never taken."""
        with self._changed:
            replaced = self._slots[source] is not None
            self._slots[source] = Item(source, value, time.monotonic())
            self.received[source] += 1
            self.dropped[source] += int(replaced)
            self._changed.notify()
            return replaced

    def take(self, timeout=None):
        """The next source's newest item (round robin over sources that have one); None on timeout or close."""
        with self._changed:
            if not self._changed.wait_for(lambda: self._closed or any(self._slots.values()), timeout):
                return None
            if self._closed:
                return None
            for step in range(len(self._sources)):
                source = self._sources[(self._next + step) % len(self._sources)]
                item = self._slots[source]
                if item is not None:
                    self._slots[source] = None
                    self._next = (self._next + step + 1) % len(self._sources)
                    return item
            return None

    def close(self):
        """Wake the worker: every later `take` returns None."""
        with self._changed:
            self._closed = True
            self._changed.notify_all()
