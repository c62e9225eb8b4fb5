"""Keyed hashes of networks and subjects, and the keys of each day."""

from __future__ import annotations

import pytest

from challenge_service.maintenance import purge
from challenge_service.signals import DAY
from challenge_service.signals import DAY_KEY_SETTING
from challenge_service.signals import network_of
from challenge_service.signals import Visitors


@pytest.mark.parametrize(
    ("address", "network"),
    [
        ("198.51.100.7", "198.51.100.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", "198.51.100.7"),
        ("198.51.100.7:443", "198.51.100.7"),
        ("[2001:db8:1:2::9]:443", "2001:db8:1:2::/64"),
        ("[2001:db8:1:2::9]", "2001:db8:1:2::/64"),
    ],
)
def test_network_of_groups_addresses(address, network):
    assert network_of(address) == network


@pytest.mark.parametrize("address", ["garbage", "999.1.1.1", "1.2.3.4:80:90", ""])
def test_network_of_unknown_warns(address, caplog, monkeypatch):
    monkeypatch.setattr("challenge_service.signals._unknown_warned_at", float("-inf"))

    assert network_of(address) == "unknown"
    assert "is not an IP address" in caplog.text
    if address:
        assert address not in caplog.text


def test_day_hash_stable_within_day(store, clock):
    first = Visitors(store)
    second = Visitors(store)
    start = (clock() // DAY) * DAY

    assert first.network("198.51.100.7", start + 10) == second.network(
        "198.51.100.7", start + DAY - 10
    )
    assert first.subject(1, "household-1", start) == second.subject(
        1, "household-1", start + 5
    )


def test_day_hash_changes_with_day(store, clock):
    visitors = Visitors(store)
    today = visitors.network("198.51.100.7", clock())
    tomorrow = visitors.network("198.51.100.7", clock() + DAY)

    assert today != tomorrow
    assert visitors.quota_subject(1, "household-1") == Visitors(store).quota_subject(
        1, "household-1"
    )


def test_purge_deletes_past_day_keys(store, clock):
    visitors = Visitors(store)
    day = int(clock() // DAY)
    visitors.network("198.51.100.7", clock())
    visitors.network("198.51.100.7", clock() + DAY)

    # The day after next: the first day's key goes, yesterday's stays.
    deleted = purge(store, clock() + 2 * DAY, 180 * DAY, DAY)

    assert deleted["hash-keys"] == 1
    assert store.setting(f"{DAY_KEY_SETTING}{day}") is None
    assert store.setting(f"{DAY_KEY_SETTING}{day + 1}") is not None
    assert purge(store, clock() + 2 * DAY, 180 * DAY, DAY)["hash-keys"] == 0
