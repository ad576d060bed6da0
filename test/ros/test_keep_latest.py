"""Keep-latest hand-over and node statistics (ROS-free)."""
import threading
import time

import pytest

from vn_perception.ros.keep_latest import LatestSlots
from vn_perception.ros.stats import NodeStats


def test_newest_item_wins_and_replaced_ones_count_as_dropped():
    slots = LatestSlots(["a"])
    assert slots.put("a", 1) is False
    assert slots.put("a", 2) is True
    assert slots.put("a", 3) is True
    item = slots.take(timeout=0)
    assert (item.source, item.value) == ("a", 3)
    assert slots.received == {"a": 3} and slots.dropped == {"a": 2}
    assert slots.take(timeout=0.01) is None


def test_sources_are_served_in_turn():
    slots = LatestSlots(["a", "b", "c"])
    for round_number in range(3):
        for source in ("a", "b", "c"):
            slots.put(source, (source, round_number))
        taken = [slots.take(timeout=0).source for _ in range(3)]
        assert sorted(taken) == ["a", "b", "c"]
    slots.put("c", 0)
    slots.put("a", 0)
    assert [slots.take(timeout=0).source for _ in range(2)] == ["a", "c"]


def test_close_wakes_a_waiting_worker():
    slots = LatestSlots(["a"])
    result = []
    worker = threading.Thread(target=lambda: result.append(slots.take(timeout=10)))
    worker.start()
    time.sleep(0.05)
    slots.close()
    worker.join(timeout=2)
    assert not worker.is_alive() and result == [None]


def test_fast_producer_slow_consumer_accounts_for_every_item():
    slots = LatestSlots(["a"])
    taken = []

    def consume():
        while True:
            item = slots.take(timeout=0.5)
            if item is None:
                return
            taken.append(item.value)
            time.sleep(0.002)

    worker = threading.Thread(target=consume)
    worker.start()
    for value in range(2000):
        slots.put("a", value)
    worker.join(timeout=10)
    assert taken == sorted(taken), "items are taken in order"
    assert taken[-1] == 1999, "the newest item is always processed"
    assert len(taken) + slots.dropped["a"] == 2000
    assert slots.dropped["a"] > 0


def test_stats_summary_rates_and_latency():
    now = [0.0]
    stats = NodeStats(clock=lambda: now[0])
    now[0] = 2.0
    for latency in (0.010, 0.020, 0.030, 0.040):
        stats.add("processed")
        stats.add_latency(latency)
    stats.add("malformed", 2)
    values = stats.summary(received=10, dropped=6)
    assert values["processed_rate_hz"] == pytest.approx(2.0)
    assert values["received_rate_hz"] == pytest.approx(5.0)
    assert values["dropped_rate_hz"] == pytest.approx(3.0)
    assert values["malformed"] == 2 and values["processed"] == 4
    assert values["latency_mean_ms"] == pytest.approx(25.0)
    assert values["latency_max_ms"] == pytest.approx(40.0)
    now[0] = 3.0
    values = stats.summary(received=10, dropped=6)
    assert values["processed_rate_hz"] == 0.0 and "latency_mean_ms" not in values
