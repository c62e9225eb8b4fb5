"""Contract tests of the batched counter call and of setting reads."""

from __future__ import annotations

import time

import pytest

NOW = float((int(time.time()) // 86400 + 2) * 86400)


def test_observe_matches_hit_and_count(store):
    store.hit("net", "a", 600, NOW)
    store.hit("wrong", "a", 600, NOW, amount=3)

    hit_counts, read_counts = store.observe(
        [("net", "a", 600), ("site", "1", 60)],
        [("wrong", "a", 600), ("replay", "a", 600)],
        NOW + 1,
    )

    assert hit_counts == [2, 1]
    assert read_counts == [3, 0]
    assert store.count("net", "a", 600, NOW + 1) == 2
    assert store.count("wrong", "a", 600, NOW + 1) == 3


def test_observe_reads_add_nothing(store):
    store.observe([], [("net", "b", 600)], NOW)

    assert store.count("net", "b", 600, NOW) == 0


def test_observe_drops_events_past_window(store):
    store.observe([("net", "c", 60)], [], NOW)

    hit_counts, _ = store.observe([("net", "c", 60)], [], NOW + 67)

    assert hit_counts == [1]


def test_observe_empty_batch(store):
    assert store.observe([], [], NOW) == ([], [])


@pytest.mark.parametrize(
    "hits",
    [
        [("bad name!", "k", 60)],
        [("net", "", 60)],
        [("net", "k", 0)],
    ],
)
def test_observe_rejects_bad_counters(store, hits):
    with pytest.raises(ValueError):
        store.observe(hits, [], NOW)

    assert store.count("net", "k", 60, NOW) == 0


def test_count_names_matches_count(store):
    store.hit("net", "d", 600, NOW, amount=4)
    store.hit("replay", "d", 600, NOW)
    store.hit("replay", "other", 600, NOW, amount=9)
    store.hit("net", "d", 60, NOW, amount=7)

    counts = store.count_names(("net", "wrong", "replay"), "d", 600, NOW + 1)

    assert counts == [4, 0, 1]
    assert counts == [store.count(name, "d", 600, NOW + 1) for name in ("net", "wrong", "replay")]


def test_count_names_skips_past_window(store):
    store.hit("net", "e", 60, NOW)

    assert store.count_names(("net",), "e", 60, NOW + 67) == [0]


@pytest.mark.parametrize(
    ("names", "key", "window"),
    [
        (("net", "bad name!"), "k", 60),
        (("net",), "", 60),
        (("net",), "k", 0),
    ],
)
def test_count_names_rejects_bad_counters(store, names, key, window):
    with pytest.raises(ValueError):
        store.count_names(names, key, window, NOW)


def test_setting_reads_stored_value(store):
    assert store.setting("policy:x") is None

    store.replace_setting("policy:x", '{"floor": 1}')

    assert store.setting("policy:x") == '{"floor": 1}'
    assert store.claim_setting("policy:x", "other") == '{"floor": 1}'


def test_delete_setting_removes_value(store):
    store.replace_setting("day-key:1", "a")

    assert store.delete_setting("day-key:1") is True
    assert store.setting("day-key:1") is None
    assert store.delete_setting("day-key:1") is False
    assert store.claim_setting("day-key:1", "b") == "b"


def test_record_events_writes_batch_in_order(store):
    store.record_events(
        [
            ({"event": "challenge", "site_id": 1}, NOW),
            ({"event": "answer", "site_id": 2}, NOW + 1),
            ({"event": "verify", "site_id": 1}, NOW + 2),
        ]
    )

    everything = store.events(NOW, NOW + 10, 10)
    first_site = store.events(NOW, NOW + 10, 10, site_id=1)

    assert [event["event"] for event in everything] == ["challenge", "answer", "verify"]
    assert [event["event"] for event in first_site] == ["challenge", "verify"]


def test_record_events_rejects_whole_batch(store):
    with pytest.raises(ValueError):
        store.record_events([({"event": "ok"}, NOW), ({"event": "x" * 5000}, NOW)])

    assert store.events(NOW - 1, NOW + 1, 10) == []


def test_add_counts_adds_batch(store):
    store.add_counts(
        [
            ("net", "a", 600, NOW, 1),
            ("net", "a", 600, NOW + 1, 2),
            ("site", "1", 60, NOW, 5),
        ]
    )

    assert store.count("net", "a", 600, NOW + 2) == 3
    assert store.count("site", "1", 60, NOW + 2) == 5


def test_add_counts_rejects_whole_batch(store):
    with pytest.raises(ValueError):
        store.add_counts([("net", "b", 600, NOW, 1), ("net", "b", 600, NOW, 0)])

    assert store.count("net", "b", 600, NOW) == 0


def test_observe_reads_alone_see_added_counts(store):
    store.add_counts([("wrong", "c", 600, NOW, 4)])

    assert store.observe([], [("wrong", "c", 600)], NOW + 1) == ([], [4])
