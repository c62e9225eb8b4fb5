"""Contract tests of counters, quotas, audit events and purges on every back end.

Every test takes an explicit ``now``. ``NOW`` lies two days ahead of the real
clock, because Redis expires keys on its own clock: keys that the tests write
around ``NOW`` outlive the test. It is a whole number of days, so it starts a
bucket of every window used here except the week.
"""

from __future__ import annotations

import json
import math
import multiprocessing
import sqlite3
import time
import traceback

import pytest
import redis

from challenge_service.storage import RedisStore
from challenge_service.storage import SQLiteStore
from challenge_service.storage import redis as redis_module
from challenge_service.storage import sqlite as sqlite_module
from challenge_service.storage.base import counter_span
from challenge_service.storage.base import MAX_EVENT_BYTES

from .conftest import close_store
from .conftest import flush_redis
from .racing import outcomes_by_id
from .racing import race
from .racing import RACE_IDS
from .racing import RACE_TIMEOUT
from .racing import RACERS

NOW = float((int(time.time()) // 86400 + 2) * 86400)

#: Window of most counters here, and the width of its buckets.
WINDOW = 60
BUCKET = WINDOW / 10

WEEK = 7 * 86400

#: Limit of the quotas that the races compete for.
RACE_LIMIT = 3

#: Rounds of processes that open a new SQLite file at once.
NEW_FILE_ROUNDS = 30


def event_of_size(size: int, **fields) -> dict:
    """Return an event whose compact JSON is exactly ``size`` bytes."""
    event = {**fields, "padding": ""}
    base = len(json_text(event))
    event["padding"] = "x" * (size - base)
    assert len(json_text(event)) == size
    return event


def json_text(event: dict) -> str:
    """Return an event's JSON as the stores write it."""
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False)


class TestCounters:
    def test_hit_returns_running_count(self, store):
        assert store.hit("net", "key-1", WINDOW, NOW) == 1
        assert store.hit("net", "key-1", WINDOW, NOW + 1, amount=4) == 5
        assert store.hit("net", "key-1", WINDOW, NOW + 59) == 6

    def test_count_reads_without_adding(self, store):
        store.hit("net", "key-1", WINDOW, NOW, amount=2)

        assert store.count("net", "key-1", WINDOW, NOW + 1) == 2
        assert store.count("net", "key-1", WINDOW, NOW + 1) == 2
        assert store.hit("net", "key-1", WINDOW, NOW + 2) == 3

    def test_unknown_counter_counts_zero(self, store):
        assert store.count("net", "key-unknown", WINDOW, NOW) == 0

    def test_event_at_window_start_counted(self, store):
        store.hit("net", "key-1", WINDOW, NOW)

        assert store.count("net", "key-1", WINDOW, NOW + WINDOW) == 1

    def test_event_leaves_within_one_bucket(self, store):
        store.hit("net", "key-1", WINDOW, NOW)

        assert store.count("net", "key-1", WINDOW, NOW + WINDOW + BUCKET - 0.5) == 1
        assert store.count("net", "key-1", WINDOW, NOW + WINDOW + BUCKET) == 0

    def test_event_inside_bucket_counted_to_its_end(self, store):
        # An event 1.5 s into its bucket is counted until that bucket's end
        # leaves the window: for 64.5 s, between the window and 1.1 windows.
        store.hit("net", "key-1", WINDOW, NOW + 1.5)

        assert store.count("net", "key-1", WINDOW, NOW + 1.5 + WINDOW) == 1
        assert store.count("net", "key-1", WINDOW, NOW + 65.5) == 1
        assert store.count("net", "key-1", WINDOW, NOW + 66) == 0

    def test_event_just_before_window_not_counted(self, store):
        store.hit("net", "key-1", WINDOW, NOW - BUCKET - 0.5)

        assert store.count("net", "key-1", WINDOW, NOW + WINDOW - BUCKET) == 0

    def test_hit_drops_events_past_window(self, store):
        store.hit("net", "key-1", WINDOW, NOW)
        store.hit("net", "key-1", WINDOW, NOW + 30)

        assert store.hit("net", "key-1", WINDOW, NOW + 70) == 2
        assert store.hit("net", "key-1", WINDOW, NOW + 100) == 2

    def test_event_ahead_of_now_counted(self, store):
        # Another instance's clock may run ahead of this one.
        store.hit("net", "key-1", WINDOW, NOW + 10)

        assert store.count("net", "key-1", WINDOW, NOW) == 1

    def test_counters_separate_by_name_key_window(self, store):
        store.hit("net", "key-1", WINDOW, NOW, amount=5)

        assert store.count("net", "key-1", WINDOW, NOW) == 5
        assert store.count("site", "key-1", WINDOW, NOW) == 0
        assert store.count("net", "key-2", WINDOW, NOW) == 0
        assert store.count("net", "key-1", 3600, NOW) == 0

    def test_key_with_colons_separate(self, store):
        store.hit("net", "a:b", WINDOW, NOW)

        assert store.count("net", "a:b", WINDOW, NOW) == 1
        assert store.count("net", "a", WINDOW, NOW) == 0
        assert store.count("net", "b", WINDOW, NOW) == 0

    def test_week_window(self, store):
        store.hit("subject", "key-1", WEEK, NOW, amount=3)
        store.hit("subject", "key-1", WEEK, NOW + 3 * 86400)

        assert store.count("subject", "key-1", WEEK, NOW + WEEK) == 4
        assert store.count("subject", "key-1", WEEK, NOW + 3 * 86400 + WEEK) == 1
        assert store.count("subject", "key-1", WEEK, NOW + 3 * 86400 + 1.1 * WEEK) == 0

    def test_one_second_window(self, store):
        store.hit("wrong", "key-1", 1, NOW)

        assert store.count("wrong", "key-1", 1, NOW + 1) == 1
        assert store.count("wrong", "key-1", 1, NOW + 1.125) == 0

    @pytest.mark.parametrize(
        ("arguments", "parameter"),
        [
            ({"name": "a:b"}, "name"),
            ({"name": ""}, "name"),
            ({"name": "n" * 33}, "name"),
            ({"name": 7}, "name"),
            ({"key": ""}, "key"),
            ({"key": "k" * 129}, "key"),
            ({"key": None}, "key"),
            ({"window": 0}, "window"),
            ({"window": 1.5}, "window"),
            ({"window": True}, "window"),
            ({"window": 366 * 86400 + 1}, "window"),
            ({"now": math.nan}, "now"),
            ({"now": "1800000000"}, "now"),
            ({"now": 1e300}, "now"),
            ({"amount": 0}, "amount"),
            ({"amount": 1_000_001}, "amount"),
        ],
    )
    def test_hit_rejects_bad_arguments(self, store, arguments, parameter):
        call = {"name": "net", "key": "key-1", "window": WINDOW, "now": NOW}
        call.update(arguments)

        with pytest.raises(ValueError, match=parameter):
            store.hit(**call)

        assert store.count("net", "key-1", WINDOW, NOW) == 0

    def test_count_rejects_bad_window(self, store):
        with pytest.raises(ValueError, match="window"):
            store.count("net", "key-1", 0, NOW)

    def test_hit_race_counts_each_event(self, open_store):
        # Each racer hits every counter once. Adding and counting are one step,
        # so the racers of one counter see the counts 1 to RACERS, once each.
        results = race(open_store, attempt_hit)
        outcomes = outcomes_by_id(results)

        assert set(outcomes) == set(RACE_IDS)

        for item, seen in outcomes.items():
            assert sorted(seen, key=int) == [str(n) for n in range(1, RACERS + 1)], item

        store = open_store()
        final_count = store.count("net", RACE_IDS[0], WINDOW, NOW)
        close_store(store)

        assert final_count == RACERS


class TestQuotas:
    def test_quota_takes_until_limit(self, store):
        assert store.take_quota("subject", "key-1", "e1", 3, WEEK, NOW) == (True, None)
        assert store.take_quota("subject", "key-1", "e2", 3, WEEK, NOW + 1) == (
            True,
            None,
        )
        assert store.take_quota("subject", "key-1", "e3", 3, WEEK, NOW + 2) == (
            True,
            None,
        )
        assert store.take_quota("subject", "key-1", "e4", 3, WEEK, NOW + 3) == (
            False,
            NOW + WEEK,
        )

    def test_full_quota_frees_when_oldest_leaves(self, store):
        store.take_quota("subject", "key-1", "e1", 1, WINDOW, NOW + 0.25)

        denied = store.take_quota("subject", "key-1", "e2", 1, WINDOW, NOW + 60)
        before = store.take_quota("subject", "key-1", "e3", 1, WINDOW, NOW + 60.125)
        at_exit = store.take_quota("subject", "key-1", "e4", 1, WINDOW, NOW + 60.25)

        assert denied == (False, NOW + 60.25)
        assert before == (False, NOW + 60.25)
        assert at_exit == (True, None)

    def test_entry_at_window_start_left(self, store):
        store.take_quota("subject", "key-1", "e1", 1, WINDOW, NOW - WINDOW)

        assert store.take_quota("subject", "key-1", "e2", 1, WINDOW, NOW) == (
            True,
            None,
        )

    def test_denied_take_records_nothing(self, store):
        store.take_quota("subject", "key-1", "e1", 1, WINDOW, NOW)
        store.take_quota("subject", "key-1", "e2", 1, WINDOW, NOW + 1)

        # e2 was rejected, so at e1's exit the slot is free for e3, and e2 is
        # not in the log for a later take to find.
        assert store.take_quota("subject", "key-1", "e3", 1, WINDOW, NOW + 60) == (
            True,
            None,
        )
        assert store.take_quota("subject", "key-1", "e2", 1, WINDOW, NOW + 61) == (
            False,
            NOW + 120,
        )

    def test_frees_at_is_oldest_not_first_taken(self, store):
        store.take_quota("subject", "key-1", "late", 2, WINDOW, NOW + 10)
        store.take_quota("subject", "key-1", "early", 2, WINDOW, NOW + 5)

        assert store.take_quota("subject", "key-1", "e3", 2, WINDOW, NOW + 20) == (
            False,
            NOW + 65,
        )

    def test_retake_keeps_slot_and_time(self, store):
        store.take_quota("subject", "key-1", "e1", 2, WINDOW, NOW)

        again = store.take_quota("subject", "key-1", "e1", 2, WINDOW, NOW + 10)
        second = store.take_quota("subject", "key-1", "e2", 2, WINDOW, NOW + 11)
        third = store.take_quota("subject", "key-1", "e3", 2, WINDOW, NOW + 12)
        full_again = store.take_quota("subject", "key-1", "e1", 2, WINDOW, NOW + 13)

        assert again == (True, NOW + WINDOW)
        assert second == (True, None)
        assert third == (False, NOW + WINDOW)
        assert full_again == (True, NOW + WINDOW)

    def test_left_entry_recorded_again(self, store):
        store.take_quota("subject", "key-1", "e1", 2, WINDOW, NOW)

        again = store.take_quota("subject", "key-1", "e1", 2, WINDOW, NOW + 60)
        retaken = store.take_quota("subject", "key-1", "e1", 2, WINDOW, NOW + 61)

        assert again == (True, None)
        assert retaken == (True, NOW + 120)

    def test_release_frees_slot(self, store):
        store.take_quota("subject", "key-1", "e1", 1, WINDOW, NOW)
        store.release_quota("subject", "key-1", "e1")

        assert store.take_quota("subject", "key-1", "e2", 1, WINDOW, NOW + 1) == (
            True,
            None,
        )
        assert store.take_quota("subject", "key-1", "e1", 1, WINDOW, NOW + 2) == (
            False,
            NOW + 61,
        )

    def test_release_unknown_entry_ignored(self, store):
        store.take_quota("subject", "key-1", "e1", 1, WINDOW, NOW)

        assert store.release_quota("subject", "key-1", "other") is None
        assert store.release_quota("subject", "key-unknown", "e1") is None
        assert store.take_quota("subject", "key-1", "e2", 1, WINDOW, NOW) == (
            False,
            NOW + WINDOW,
        )

    def test_lowered_limit_frees_later(self, store):
        for offset in range(3):
            store.take_quota("subject", "key-1", f"e{offset}", 3, WINDOW, NOW + offset)

        # Of the 3 entries held, 2 must leave to get under a limit of 2, and
        # all 3 to get under a limit of 1.
        assert store.take_quota("subject", "key-1", "e9", 2, WINDOW, NOW + 5) == (
            False,
            NOW + 61,
        )
        assert store.take_quota("subject", "key-1", "e9", 1, WINDOW, NOW + 5) == (
            False,
            NOW + 62,
        )

    def test_entries_keep_their_own_window(self, store):
        store.take_quota("subject", "key-1", "short", 2, WINDOW, NOW)
        store.take_quota("subject", "key-1", "long", 2, 3600, NOW)

        assert store.take_quota("subject", "key-1", "e3", 2, 3600, NOW + 59) == (
            False,
            NOW + WINDOW,
        )
        assert store.take_quota("subject", "key-1", "e3", 2, 3600, NOW + 60) == (
            True,
            None,
        )

    def test_quotas_separate_by_name_and_key(self, store):
        store.take_quota("subject", "key-1", "e1", 1, WINDOW, NOW)

        assert store.take_quota("subject", "key-2", "e1", 1, WINDOW, NOW) == (
            True,
            None,
        )
        assert store.take_quota("site", "key-1", "e1", 1, WINDOW, NOW) == (True, None)

    def test_week_quota_of_thousand(self, store):
        for number in range(1000):
            taken = store.take_quota("site", "key-1", f"t{number}", 1000, WEEK, NOW)
            assert taken == (True, None), number

        assert store.take_quota("site", "key-1", "t1000", 1000, WEEK, NOW + 1) == (
            False,
            NOW + WEEK,
        )

    @pytest.mark.parametrize(
        ("arguments", "parameter"),
        [
            ({"name": "a:b"}, "name"),
            ({"key": ""}, "key"),
            ({"entry": ""}, "entry"),
            ({"entry": "e" * 129}, "entry"),
            ({"limit": 0}, "limit"),
            ({"limit": 10_001}, "limit"),
            ({"limit": 2.0}, "limit"),
            ({"window": 0}, "window"),
            ({"now": math.inf}, "now"),
        ],
    )
    def test_take_rejects_bad_arguments(self, store, arguments, parameter):
        call = {
            "name": "subject",
            "key": "key-1",
            "entry": "e1",
            "limit": 1,
            "window": WINDOW,
            "now": NOW,
        }
        call.update(arguments)

        with pytest.raises(ValueError, match=parameter):
            store.take_quota(**call)

        assert store.take_quota("subject", "key-1", "e2", 1, WINDOW, NOW) == (
            True,
            None,
        )

    def test_release_rejects_bad_entry(self, store):
        with pytest.raises(ValueError, match="entry"):
            store.release_quota("subject", "key-1", "")

    def test_quota_race_last_slot(self, open_store):
        # RACE_LIMIT - 1 slots of each quota are taken before the race, so of
        # the racers that take the last one at the same moment exactly one wins.
        store = open_store()

        for item in RACE_IDS:
            for number in range(RACE_LIMIT - 1):
                entry = f"before-{number}"
                store.take_quota("subject", item, entry, RACE_LIMIT, WEEK, NOW)

        close_store(store)

        results = race(open_store, attempt_take_quota)
        outcomes = outcomes_by_id(results)

        assert set(outcomes) == set(RACE_IDS)

        for item, seen in outcomes.items():
            assert sorted(seen) == ["lost"] * (RACERS - 1) + ["won"], item

        assert_losers_see_frees_at(results)

    def test_quota_race_exact_limit(self, open_store):
        results = race(open_store, attempt_take_quota)
        outcomes = outcomes_by_id(results)

        assert set(outcomes) == set(RACE_IDS)

        for item, seen in outcomes.items():
            expected = ["lost"] * (RACERS - RACE_LIMIT) + ["won"] * RACE_LIMIT
            assert sorted(seen) == expected, item

        assert_losers_see_frees_at(results)


class TestAuditEvents:
    def test_events_oldest_first_with_time(self, store):
        store.record_event({"kind": "b"}, NOW + 2)
        store.record_event({"kind": "a"}, NOW + 1)
        store.record_event({"kind": "c"}, NOW + 3)

        assert store.events(NOW, NOW + 10, 10) == [
            {"kind": "a", "time": NOW + 1},
            {"kind": "b", "time": NOW + 2},
            {"kind": "c", "time": NOW + 3},
        ]

    def test_same_time_keeps_record_order(self, store):
        for number in range(12):
            store.record_event({"number": number}, NOW)

        numbers = [event["number"] for event in store.events(NOW, NOW, 100)]

        assert numbers == list(range(12))

    def test_range_includes_both_ends(self, store):
        for offset in (-0.5, 0, 5, 10, 10.5):
            store.record_event({"offset": offset}, NOW + offset)

        offsets = [event["offset"] for event in store.events(NOW, NOW + 10, 100)]

        assert offsets == [0, 5, 10]

    def test_limit_returns_oldest(self, store):
        for number in range(5):
            store.record_event({"number": number}, NOW + number)

        events = store.events(NOW, NOW + 10, 2)

        assert [event["number"] for event in events] == [0, 1]

    def test_site_filter(self, store):
        store.record_event({"kind": "verify", "site_id": 1}, NOW)
        store.record_event({"kind": "verify", "site_id": 2}, NOW + 1)
        store.record_event({"kind": "answer"}, NOW + 2)
        store.record_event({"kind": "answer", "site_id": None}, NOW + 3)
        store.record_event({"kind": "answer", "site_id": 1}, NOW + 4)

        site_1 = store.events(NOW, NOW + 10, 10, site_id=1)
        site_1_limited = store.events(NOW, NOW + 10, 1, site_id=1)

        assert site_1 == [
            {"kind": "verify", "site_id": 1, "time": NOW},
            {"kind": "answer", "site_id": 1, "time": NOW + 4},
        ]
        assert site_1_limited == site_1[:1]
        assert store.events(NOW, NOW + 10, 10, site_id=2)[0]["time"] == NOW + 1
        assert store.events(NOW, NOW + 10, 10, site_id=3) == []
        assert len(store.events(NOW, NOW + 10, 10)) == 5

    def test_values_round_trip(self, store):
        event = {
            "kind": "verify",
            "site_id": 4,
            "level": 2,
            "score": 0.375,
            "passed": True,
            "reason": None,
            "codes": ["timeout-or-duplicate", "é"],
            "empty": [],
        }

        store.record_event(event, NOW)

        assert store.events(NOW, NOW, 1) == [{**event, "time": NOW}]

    def test_empty_range_returns_nothing(self, store):
        store.record_event({"kind": "verify"}, NOW)

        assert store.events(NOW + 1, NOW + 2, 10) == []
        assert store.events(NOW + 1, NOW - 1, 10) == []

    def test_largest_event_accepted(self, store):
        event = event_of_size(MAX_EVENT_BYTES, kind="verify")

        store.record_event(event, NOW)

        assert store.events(NOW, NOW, 1) == [{**event, "time": NOW}]

    def test_oversized_event_rejected(self, store):
        event = event_of_size(MAX_EVENT_BYTES + 1, kind="verify")

        with pytest.raises(ValueError, match="1025 bytes"):
            store.record_event(event, NOW)

        assert store.events(NOW, NOW, 1) == []

    def test_size_counts_utf8_bytes(self, store):
        # "é" is 2 bytes in UTF-8, and 6 as the JSON escape \u00e9.
        store.record_event({"name": "é" * 500}, NOW)

        with pytest.raises(ValueError, match="1211 bytes"):
            store.record_event({"name": "é" * 600}, NOW)

        assert store.events(NOW, NOW, 10) == [{"name": "é" * 500, "time": NOW}]

    @pytest.mark.parametrize(
        ("event", "message"),
        [
            ({"nested": {"a": 1}}, "'nested'"),
            ({"numbers": [1, 2]}, "'numbers'"),
            ({"pair": ("a", "b")}, "'pair'"),
            ({"time": 5}, "'time'"),
            ({3: "three"}, "3"),
            ({"score": math.nan}, "NaN"),
            ({"name": "\ud800"}, "Unicode"),
            ({"site_id": "3"}, "site_id"),
            ({"site_id": True}, "site_id"),
            ({"site_id": 2**63}, "site_id"),
            ({"site_id": -1}, "site_id"),
            (["kind", "verify"], "dict"),
        ],
    )
    def test_invalid_event_rejected(self, store, event, message):
        with pytest.raises(ValueError, match=message):
            store.record_event(event, NOW)

        assert store.events(0, NOW + 10, 10) == []

    @pytest.mark.parametrize(
        ("arguments", "parameter"),
        [
            ({"limit": 0}, "limit"),
            ({"limit": 10_001}, "limit"),
            ({"since": math.nan}, "since"),
            ({"until": None}, "until"),
            ({"site_id": "1"}, "site_id"),
            ({"site_id": 2**60}, "site_id"),
            ({"until": 1e12}, "until"),
        ],
    )
    def test_events_rejects_bad_arguments(self, store, arguments, parameter):
        call = {"since": NOW, "until": NOW + 10, "limit": 10}
        call.update(arguments)

        with pytest.raises(ValueError, match=parameter):
            store.events(**call)

    def test_record_rejects_bad_time(self, store):
        with pytest.raises(ValueError, match="now"):
            store.record_event({"kind": "verify"}, math.inf)


class TestPurge:
    def test_purge_counts_each_kind(self, store):
        store.hit("net", "old", WINDOW, NOW)
        store.hit("net", "live", WINDOW, NOW + 50)
        store.take_quota("subject", "key-1", "old", 5, WINDOW, NOW)
        store.take_quota("subject", "key-1", "live", 5, WINDOW, NOW + 20)
        store.take_quota("subject", "key-2", "old", 5, WINDOW, NOW + 10)
        store.record_event({"kind": "old"}, NOW - 3600)
        store.record_event({"kind": "edge"}, NOW)
        store.record_event({"kind": "kept"}, NOW + 0.5)

        deleted = store.purge(NOW + 3600, audit_retention=3600, rate_retention=86400)

        assert deleted == {"used": 0, "counters": 2, "quotas": 3, "events": 2}
        assert [event["kind"] for event in store.events(0, NOW + 3600, 10)] == ["kept"]

    def test_purge_deletes_expired_rates(self, store):
        store.hit("net", "old", WINDOW, NOW)
        store.hit("net", "old", WINDOW, NOW + 6)
        store.hit("net", "live", WINDOW, NOW + 50)
        store.take_quota("subject", "key-1", "old", 5, WINDOW, NOW)
        store.take_quota("subject", "key-1", "live", 5, WINDOW, NOW + 20)
        store.take_quota("subject", "key-2", "old", 5, WINDOW, NOW + 10)

        deleted = store.purge(NOW + 72, audit_retention=0, rate_retention=86400)

        assert deleted == {"used": 0, "counters": 2, "quotas": 2, "events": 0}
        assert store.count("net", "live", WINDOW, NOW + 72) == 1
        assert store.take_quota("subject", "key-1", "new", 2, WINDOW, NOW + 72) == (
            True,
            None,
        )
        assert store.take_quota("subject", "key-1", "more", 2, WINDOW, NOW + 72) == (
            False,
            NOW + 80,
        )

    def test_purge_twice_deletes_nothing_more(self, store):
        store.hit("net", "old", WINDOW, NOW)
        store.take_quota("subject", "key-1", "old", 5, WINDOW, NOW)
        store.record_event({"kind": "old"}, NOW)

        first = store.purge(NOW + 100, 10, 86400)
        second = store.purge(NOW + 100, 10, 86400)

        assert first == {"used": 0, "counters": 1, "quotas": 1, "events": 1}
        assert second == {"used": 0, "counters": 0, "quotas": 0, "events": 0}

    def test_rate_retention_caps_counters(self, store):
        # Buckets of a 3600 s window are 360 s wide. With a retention of
        # 500 s at NOW + 1000, the bucket that ended at NOW + 360 goes and the
        # one that ends at NOW + 720 stays.
        store.hit("subject", "key-1", 3600, NOW)
        store.hit("subject", "key-1", 3600, NOW + 360)
        store.hit("subject", "key-1", 3600, NOW + 720)

        deleted = store.purge(NOW + 1000, audit_retention=86400, rate_retention=500)

        assert deleted["counters"] == 1
        assert store.count("subject", "key-1", 3600, NOW + 1000) == 2

    def test_rate_retention_leaves_quotas(self, store):
        store.take_quota("subject", "key-1", "e1", 1, WEEK, NOW)

        deleted = store.purge(NOW + 86400, audit_retention=0, rate_retention=0)

        assert deleted["quotas"] == 0
        assert store.take_quota("subject", "key-1", "e2", 1, WEEK, NOW + 86400) == (
            False,
            NOW + WEEK,
        )

    def test_purge_expired_deletes_rates_not_events(self, store):
        store.hit("net", "old", WINDOW, NOW)
        store.take_quota("subject", "key-1", "old", 5, WINDOW, NOW)
        store.record_event({"kind": "old"}, NOW)

        assert store.purge_expired(NOW + 66) == 2
        assert store.purge_expired(NOW + 66) == 0
        assert len(store.events(0, NOW + 66, 10)) == 1

    def test_purge_keeps_site_filter_consistent(self, store):
        store.record_event({"kind": "old", "site_id": 1}, NOW)
        store.record_event({"kind": "new", "site_id": 1}, NOW + 20)

        store.purge(NOW + 30, audit_retention=15, rate_retention=86400)

        assert [event["kind"] for event in store.events(0, NOW + 30, 10, 1)] == ["new"]

    def test_purge_runs_in_batches(self, store, monkeypatch):
        monkeypatch.setattr(sqlite_module, "PURGE_BATCH", 7)
        monkeypatch.setattr(redis_module, "PURGE_BATCH", 7)

        for number in range(30):
            store.record_event({"number": number, "site_id": number % 2}, NOW)
            store.hit("net", f"key-{number}", WINDOW, NOW)
            store.take_quota("subject", f"key-{number}", "e1", 1, WINDOW, NOW)

        deleted = store.purge(NOW + 100, audit_retention=50, rate_retention=86400)

        assert deleted == {"used": 0, "counters": 30, "quotas": 30, "events": 30}
        assert store.events(0, NOW + 100, 100) == []
        assert store.events(0, NOW + 100, 100, site_id=1) == []

    @pytest.mark.parametrize(
        ("arguments", "parameter"),
        [
            ({"audit_retention": -1}, "audit_retention"),
            ({"rate_retention": -0.5}, "rate_retention"),
            ({"rate_retention": math.nan}, "rate_retention"),
            ({"audit_retention": 1e12}, "audit_retention"),
            ({"now": None}, "now"),
        ],
    )
    def test_purge_rejects_bad_arguments(self, store, arguments, parameter):
        call = {"now": NOW, "audit_retention": 3600, "rate_retention": 3600}
        call.update(arguments)

        with pytest.raises(ValueError, match=parameter):
            store.purge(**call)


class TestSQLiteCounters:
    def test_old_data_folder_upgraded(self, tmp_path):
        path = tmp_path / "store.sqlite3"
        store = SQLiteStore(path)
        site = store.add_site("Pool", "site_1", "hash-1", ("a.fr",), NOW)
        store.consume("challenge", "id-1", NOW + 300)
        connection = sqlite3.connect(path)

        for table in ("counter_buckets", "quota_entries", "audit_events"):
            connection.execute(f"DROP TABLE {table}")

        connection.close()

        upgraded = SQLiteStore(path)

        assert upgraded.site_by_id(site.id) == site
        assert upgraded.consume("challenge", "id-1", NOW + 300) is False
        assert upgraded.hit("net", "key-1", WINDOW, NOW) == 1
        assert upgraded.take_quota("subject", "key-1", "e1", 1, WINDOW, NOW) == (
            True,
            None,
        )
        upgraded.record_event({"kind": "verify"}, NOW)
        assert len(upgraded.events(NOW, NOW, 10)) == 1

    def test_racers_create_new_file(self, tmp_path):
        # Before the schema was created under the writer lock, 4 of 300 such
        # rounds had a process fail with "database is locked".
        context = multiprocessing.get_context("fork")

        for round_number in range(NEW_FILE_ROUNDS):
            path = tmp_path / f"store-{round_number}.sqlite3"
            barrier = context.Barrier(RACERS)
            results = context.Queue()
            racers = [
                context.Process(target=open_and_hit, args=(path, barrier, results))
                for _ in range(RACERS)
            ]

            for process in racers:
                process.start()

            reports = [results.get(timeout=RACE_TIMEOUT) for _ in racers]

            for process in racers:
                process.join(timeout=RACE_TIMEOUT)

            assert reports == [None] * RACERS, round_number
            assert SQLiteStore(path).count("net", "key-1", WINDOW, NOW) == RACERS

    def test_hit_keeps_at_most_eleven_buckets(self, tmp_path):
        path = tmp_path / "store.sqlite3"
        store = SQLiteStore(path)

        for second in range(0, 600, 3):
            store.hit("net", "key-1", WINDOW, NOW + second)

        connection = sqlite3.connect(path)
        (rows,) = connection.execute("SELECT COUNT(*) FROM counter_buckets").fetchone()
        connection.close()

        assert rows == 11

    def test_purge_expired_counts_used_and_rates(self, tmp_path):
        store = SQLiteStore(tmp_path / "store.sqlite3")
        store.consume("challenge", "old", NOW)
        store.hit("net", "old", WINDOW, NOW)

        assert store.purge_expired(NOW + 100) == 2


class TestRedisCounters:
    @pytest.fixture
    def redis_store(self, redis_server):
        flush_redis(redis_server.url)
        store = RedisStore(redis_server.url)
        client = redis.Redis.from_url(redis_server.url, decode_responses=True)
        yield store, client
        client.close()
        store.close()

    def test_counter_key_expires_with_newest_bucket(self, redis_store):
        store, client = redis_store
        key = f"challenge-service:rate:net:{WINDOW}:key-1"

        store.hit("net", "key-1", WINDOW, NOW + 7)
        expiry = client.pexpiretime(key)
        store.hit("net", "key-1", WINDOW, NOW + 1)
        after_older_hit = client.pexpiretime(key)

        assert expiry == counter_span(WINDOW, NOW + 7).expires_ms
        assert expiry == (NOW + 12 + WINDOW) * 1000
        assert after_older_hit == expiry

    def test_hit_deletes_stale_buckets(self, redis_store):
        store, client = redis_store

        for second in range(0, 600, 3):
            store.hit("net", "key-1", WINDOW, NOW + second)

        assert client.hlen(f"challenge-service:rate:net:{WINDOW}:key-1") == 11

    def test_quota_key_expires_with_last_entry(self, redis_store):
        store, client = redis_store
        key = "challenge-service:quota:subject:key-1"

        store.take_quota("subject", "key-1", "long", 5, 3600, NOW + 0.0004)
        store.take_quota("subject", "key-1", "short", 5, WINDOW, NOW + 10)

        assert client.pexpiretime(key) == math.ceil((NOW + 0.0004 + 3600) * 1000)

    def test_events_need_purge(self, redis_store):
        store, client = redis_store
        store.record_event({"kind": "verify", "site_id": 3}, NOW)

        kept = {
            key: client.ttl(key) for key in client.keys("challenge-service:events:*")
        }
        store.purge(NOW + 10, audit_retention=5, rate_retention=86400)
        left = client.keys("challenge-service:events:*")

        assert set(kept) == {
            "challenge-service:events:last-id",
            "challenge-service:events:data",
            "challenge-service:events:time",
            "challenge-service:events:site:3",
        }
        assert set(kept.values()) == {-1}
        assert left == ["challenge-service:events:last-id"]

    def test_prefix_with_glob_characters(self, redis_server):
        flush_redis(redis_server.url)
        plain = RedisStore(redis_server.url, prefix="app1:")
        globbed = RedisStore(redis_server.url, prefix="app[1]*:")
        plain.hit("net", "key-1", WINDOW, NOW)
        globbed.hit("net", "key-1", WINDOW, NOW)

        deleted = globbed.purge_expired(NOW + 100)

        assert deleted == 1
        assert plain.count("net", "key-1", WINDOW, NOW) == 1
        plain.close()
        globbed.close()


def open_and_hit(path, barrier, results) -> None:
    """Open a SQLite store with the other racers and hit a counter once."""
    try:
        barrier.wait(timeout=RACE_TIMEOUT)
        SQLiteStore(path).hit("net", "key-1", WINDOW, NOW)
        results.put(None)
    except Exception:  # noqa: BLE001 - the parent reports any failure.
        results.put(traceback.format_exc())


def attempt_hit(store, racer: int, item: str) -> tuple[str, str | None]:
    return str(store.hit("net", item, WINDOW, NOW)), None


def attempt_take_quota(store, racer: int, item: str) -> tuple[str, str | None]:
    taken, frees_at = store.take_quota(
        "subject", item, f"racer-{racer}", RACE_LIMIT, WEEK, NOW
    )
    return ("won" if taken else "lost"), repr(frees_at)


def assert_losers_see_frees_at(results) -> None:
    """Check that every refused take reported the slot's exit time."""
    for attempts in results.values():
        for item, outcome, frees_at in attempts:
            if outcome == "lost":
                assert frees_at == repr(NOW + WEEK), item
