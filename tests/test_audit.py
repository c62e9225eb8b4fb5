"""The audit log writes queued events in batches, in order."""

from __future__ import annotations

import pytest

from challenge_service.audit import AuditLog


def test_batched_events_wait_for_flush(store, clock):
    audit = AuditLog(store, flush_ms=60_000)

    audit.record({"event": "challenge", "site_id": 1}, clock())
    audit.record({"event": "verify", "site_id": 1}, clock() + 1)

    assert store.events(0, clock() + 10, 10) == []
    assert audit.flush() == 2
    events = store.events(0, clock() + 10, 10)
    assert [event["event"] for event in events] == ["challenge", "verify"]
    assert audit.flush() == 0


def test_unbuffered_log_writes_at_once(store, clock):
    audit = AuditLog(store, flush_ms=0)

    audit.record({"event": "answer", "site_id": 2}, clock())

    assert [event["event"] for event in store.events(0, clock() + 1, 10)] == ["answer"]


def test_invalid_event_rejected_before_writing(store, clock):
    with pytest.raises(ValueError):
        store.record_events(
            [
                ({"event": "ok", "site_id": 1}, clock()),
                ({"event": {"nested": 1}}, clock()),
            ]
        )

    assert store.events(0, clock() + 1, 10) == []


def test_flushing_thread_writes_by_itself(store, clock):
    import time

    audit = AuditLog(store, flush_ms=50)
    audit.record({"event": "challenge", "site_id": 3}, clock())
    deadline = time.monotonic() + 5

    while not store.events(0, clock() + 1, 10) and time.monotonic() < deadline:
        time.sleep(0.05)

    assert [event["site_id"] for event in store.events(0, clock() + 1, 10)] == [3]


def test_burst_written_before_interval(store, clock, caplog):
    import time

    from challenge_service.audit import MAX_QUEUED

    # The interval is far longer than the test: only an early write can
    # keep a burst of twice the queue's size from being dropped.
    audit = AuditLog(store, flush_ms=600_000)
    total = 2 * MAX_QUEUED
    batch = 100

    for start in range(0, total, batch):
        for index in range(start, start + batch):
            # A millisecond apart, so that the events can be read in pages.
            audit.record({"event": "verify", "site_id": 4}, clock() + index / 1000)

        time.sleep(0.005)

    audit.flush()

    stored = 0
    since = clock()

    while True:
        events = store.events(since, clock() + total, 10_000, site_id=4)
        stored += len(events)

        if len(events) < 10_000:
            break

        since = events[-1]["time"] + 0.0005

    assert "dropped" not in caplog.text
    assert stored == total


def test_flush_waits_for_thread_write(store, clock):
    import sqlite3
    import threading
    import time

    from challenge_service.audit import EARLY_FLUSH

    audit = AuditLog(store, flush_ms=600_000)
    # Another connection holds the write lock, so the thread's write waits.
    blocker = sqlite3.connect(
        store.path, isolation_level=None, check_same_thread=False
    )
    blocker.execute("BEGIN IMMEDIATE")

    for index in range(EARLY_FLUSH):
        audit.record({"event": "verify", "site_id": 5}, clock() + index / 1000)

    # The queue empties when the woken thread takes the batch.
    deadline = time.monotonic() + 5

    while audit.pending() and time.monotonic() < deadline:
        time.sleep(0.01)

    assert audit.pending() == 0
    release = threading.Timer(0.3, blocker.rollback)
    release.start()
    audit.flush()
    release.join()
    blocker.close()

    assert len(store.events(0, clock() + EARLY_FLUSH, 10_000, site_id=5)) == EARLY_FLUSH


def test_batched_counts_reach_store_on_flush(store, clock):
    from challenge_service.signals import Visitors

    visitors = Visitors(store, key=b"k" * 32, flush_ms=60_000)
    first = visitors.observe(1, "net-a", None, 600, clock())
    second = visitors.observe(1, "net-a", None, 600, clock())

    assert first.network_rate == 1
    assert second.network_rate == 2
    assert (first.site_rate, second.site_rate) == (1, 2)
    assert store.count("net", "net-a", 600, clock()) == 0
    assert visitors.flush() == 4
    assert store.count("net", "net-a", 600, clock()) == 2
    assert store.count("site", "1", 60, clock()) == 2
    third = visitors.observe(1, "net-a", None, 600, clock())
    assert third.network_rate == 3
    assert third.site_rate == 3


def test_counts_in_flight_still_counted(store, clock):
    import sqlite3
    import threading
    import time

    from challenge_service.signals import Visitors

    visitors = Visitors(store, key=b"k" * 32, flush_ms=60_000)
    visitors.observe(1, "net-b", None, 600, clock())
    visitors.observe(1, "net-b", None, 600, clock())
    # Another connection holds the write lock, so the flush's write waits.
    blocker = sqlite3.connect(
        store.path, isolation_level=None, check_same_thread=False
    )
    blocker.execute("BEGIN IMMEDIATE")
    flushing = threading.Thread(target=visitors.flush)
    flushing.start()
    deadline = time.monotonic() + 5

    while not visitors._writing and time.monotonic() < deadline:
        time.sleep(0.01)

    during = visitors.observe(1, "net-b", None, 600, clock())
    blocker.rollback()
    blocker.close()
    flushing.join()
    after = visitors.observe(1, "net-b", None, 600, clock())

    assert during.network_rate == 3
    assert after.network_rate == 4
    assert store.count("net", "net-b", 600, clock()) == 2
