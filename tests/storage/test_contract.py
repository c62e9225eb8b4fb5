"""Contract tests of the store interface, run against every back end.

Each test of ``TestStoreContract`` runs once on SQLite and once on a real
``redis-server``. ``TestSQLiteStore`` covers the modes of the SQLite files.
``TestRedisStore`` covers what only the Redis store has: a server that is down,
paused or restarted, and keys that expire by themselves.
"""

from __future__ import annotations

import math
import os
import stat
import threading
import time
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from challenge_service.errors import StoreUnavailable
from challenge_service.storage import (
    Redemption,
    RedisStore,
    Site,
    SQLiteStore,
    Store,
)

from .conftest import flush_redis
from .racing import RACE_IDS, RACERS, outcomes_by_id, race

#: Creation time of the test sites and the ``now`` of their secret lookups.
CREATED = 1_800_000_000.0

#: Suffixes of the files beside the SQLite database, which contain its data or
#: guard it. The empty suffix is the database itself.
SQLITE_FILE_SUFFIXES = ("", "-wal", "-shm", ".lock")

#: Maximum seconds an operation may take while the Redis server is down. With
#: the 0.2 s socket timeout of these tests each one takes about 0.2 s; the
#: margin is for a machine so busy that the test process waits for a core.
FAIL_FAST_SECONDS = 2.0


def expires_at() -> float:
    """Return an expiry five minutes ahead on the real clock, which Redis uses."""
    return time.time() + 300


def add_pool(store: Store, number: int = 1) -> Site:
    """Add a site named ``Pool <number>`` with predictable keys and return it."""
    return store.add_site(
        f"Pool {number}",
        f"site_{number}",
        f"secret-hash-{number}",
        ("piscine.example.fr", "localhost"),
        CREATED + number,
    )


class TestStoreContract:
    def test_add_site_returns_fields(self, store):
        site = add_pool(store)

        assert site.id >= 1
        assert site.name == "Pool 1"
        assert site.sitekey == "site_1"
        assert site.secret_hash == "secret-hash-1"
        assert site.hostnames == ("piscine.example.fr", "localhost")
        assert site.created_at == CREATED + 1
        assert site.demo is False
        assert site.default_level == 0
        assert site.previous_secret_hash is None
        assert site.previous_secret_expires is None

    def test_taken_keys_rejected(self, store):
        add_pool(store)

        with pytest.raises(ValueError, match="already exists"):
            store.add_site("Copy", "site_1", "other-hash", ("a.fr",), CREATED)

        with pytest.raises(ValueError, match="already exists"):
            store.add_site("Copy", "site_other", "secret-hash-1", ("a.fr",), CREATED)

        assert len(store.sites()) == 1

    def test_claim_setting_keeps_first_value(self, store):
        first = store.claim_setting("probe", "one")
        second = store.claim_setting("probe", "two")

        assert first == "one"
        assert second == "one"

    def test_replace_setting_overwrites(self, store):
        store.claim_setting("probe", "one")
        store.replace_setting("probe", "two")

        assert store.claim_setting("probe", "three") == "two"

    def test_add_demo_site(self, store):
        site = store.add_site("Demo", "site_demo", "hash", ("localhost",), 1.5, True)

        assert site.demo is True
        assert store.site_by_id(site.id).demo is True

    def test_site_by_id(self, store):
        first = add_pool(store, 1)
        second = add_pool(store, 2)

        assert first.id != second.id
        assert store.site_by_id(first.id) == first
        assert store.site_by_id(second.id) == second

    def test_site_by_sitekey(self, store):
        first = add_pool(store, 1)
        second = add_pool(store, 2)

        assert store.site_by_sitekey("site_1") == first
        assert store.site_by_sitekey("site_2") == second

    def test_site_by_secret_hash(self, store):
        first = add_pool(store, 1)
        second = add_pool(store, 2)

        assert store.site_by_secret_hash("secret-hash-1", CREATED) == first
        assert store.site_by_secret_hash("secret-hash-2", CREATED) == second

    def test_unknown_lookups_return_none(self, store):
        site = add_pool(store)

        assert store.site_by_id(site.id + 1) is None
        assert store.site_by_sitekey("site_unknown") is None
        assert store.site_by_secret_hash("unknown-hash", CREATED) is None
        assert store.rotate_secret("site_unknown", "new-hash", CREATED) is None

    def test_sites_oldest_first(self, store):
        assert store.sites() == []

        added = [add_pool(store, number) for number in (3, 1, 2)]

        assert store.sites() == added

    def test_rotate_secret_replaces_current(self, store):
        add_pool(store)

        rotated = store.rotate_secret("site_1", "new-hash", CREATED + 60)

        assert rotated.secret_hash == "new-hash"
        assert rotated.previous_secret_hash == "secret-hash-1"
        assert rotated.previous_secret_expires == CREATED + 60
        assert store.site_by_sitekey("site_1") == rotated
        assert store.site_by_id(rotated.id) == rotated
        assert store.site_by_secret_hash("new-hash", CREATED + 3600) == rotated

    def test_previous_secret_valid_until_expiry(self, store):
        add_pool(store)
        rotated = store.rotate_secret("site_1", "new-hash", CREATED + 60)

        assert store.site_by_secret_hash("secret-hash-1", CREATED) == rotated
        assert store.site_by_secret_hash("secret-hash-1", CREATED + 59.9) == rotated
        assert store.site_by_secret_hash("secret-hash-1", CREATED + 60) is None
        assert store.site_by_secret_hash("secret-hash-1", CREATED + 3600) is None

    def test_second_rotation_drops_oldest_secret(self, store):
        add_pool(store)
        store.rotate_secret("site_1", "second-hash", CREATED + 60)
        rotated = store.rotate_secret("site_1", "third-hash", CREATED + 120)

        assert rotated.previous_secret_hash == "second-hash"
        assert store.site_by_secret_hash("secret-hash-1", CREATED) is None
        assert store.site_by_secret_hash("second-hash", CREATED) == rotated
        assert store.site_by_secret_hash("third-hash", CREATED) == rotated

    def test_rotate_secret_leaves_other_sites(self, store):
        add_pool(store, 1)
        second = add_pool(store, 2)
        store.rotate_secret("site_1", "new-hash", CREATED + 60)

        assert store.site_by_sitekey("site_2") == second
        assert store.site_by_secret_hash("secret-hash-2", CREATED) == second

    def test_consume_once(self, store):
        expiry = expires_at()

        assert store.consume("challenge", "id-1", expiry) is True
        assert store.consume("challenge", "id-1", expiry) is False
        assert store.consume("challenge", "id-2", expiry) is True

    def test_consume_scopes_independent(self, store):
        expiry = expires_at()

        assert store.consume("challenge", "id-1", expiry) is True
        assert store.consume("token", "id-1", expiry) is True
        assert store.consume("token", "id-1", expiry) is False

    def test_redeem_without_key(self, store):
        expiry = expires_at()

        assert store.redeem(1, "token-1", expiry, None, "") == (
            Redemption.REDEEMED,
            None,
        )
        assert store.redeem(1, "token-1", expiry, None, "") == (
            Redemption.DUPLICATE,
            None,
        )

    def test_redeem_same_key_replays(self, store):
        expiry = expires_at()

        first = store.redeem(1, "token-1", expiry, "key-a", '{"success": true}')
        again = store.redeem(1, "token-1", expiry, "key-a", '{"other": 1}')

        assert first == (Redemption.REDEEMED, None)
        assert again == (Redemption.REPLAYED, '{"success": true}')

    def test_redeem_other_key_duplicate(self, store):
        expiry = expires_at()
        store.redeem(1, "token-1", expiry, "key-a", "response-a")

        outcome = store.redeem(1, "token-1", expiry, "key-b", "response-b")

        assert outcome == (Redemption.DUPLICATE, None)

    def test_redeem_no_key_after_keyed(self, store):
        expiry = expires_at()
        store.redeem(1, "token-1", expiry, "key-a", "response-a")

        assert store.redeem(1, "token-1", expiry, None, "") == (
            Redemption.DUPLICATE,
            None,
        )

    def test_redeem_keyed_after_no_key(self, store):
        expiry = expires_at()
        store.redeem(1, "token-1", expiry, None, "")

        outcome = store.redeem(1, "token-1", expiry, "key-a", "response-a")

        assert outcome == (Redemption.DUPLICATE, None)

    def test_replay_needs_same_site(self, store):
        expiry = expires_at()
        store.redeem(1, "token-1", expiry, "key-a", "response-a")

        outcome = store.redeem(2, "token-1", expiry, "key-a", "response-b")

        assert outcome == (Redemption.DUPLICATE, None)

    def test_idempotency_key_with_colons(self, store):
        expiry = expires_at()
        store.redeem(1, "token-1", expiry, "a:b", "response-a")

        assert store.redeem(1, "token-1", expiry, "a:b", "") == (
            Redemption.REPLAYED,
            "response-a",
        )
        assert store.redeem(1, "token-1", expiry, "a", "") == (
            Redemption.DUPLICATE,
            None,
        )

    def test_purge_keeps_unexpired_records(self, store):
        expiry = expires_at()
        store.consume("challenge", "id-1", expiry)
        store.redeem(1, "token-1", expiry, "key-a", "response-a")

        store.purge_expired(time.time())

        assert store.consume("challenge", "id-1", expiry) is False
        assert store.redeem(1, "token-1", expiry, "key-a", "") == (
            Redemption.REPLAYED,
            "response-a",
        )

    def test_check_passes(self, store):
        assert store.check() is None

    def test_consume_race_one_winner(self, open_store):
        results = race(open_store, attempt_consume)
        outcomes = outcomes_by_id(results)

        assert set(outcomes) == set(RACE_IDS)

        for item, seen in outcomes.items():
            assert sorted(seen) == ["lost"] * (RACERS - 1) + ["won"], item

    def test_redeem_race_without_key(self, open_store):
        results = race(open_store, attempt_redeem_without_key)
        outcomes = outcomes_by_id(results)

        assert set(outcomes) == set(RACE_IDS)

        for item, seen in outcomes.items():
            assert sorted(seen) == ["duplicate"] * (RACERS - 1) + ["redeemed"], item

    def test_redeem_race_own_keys(self, open_store):
        results = race(open_store, attempt_redeem_own_key)
        outcomes = outcomes_by_id(results)

        assert set(outcomes) == set(RACE_IDS)

        for item, seen in outcomes.items():
            assert sorted(seen) == ["duplicate"] * (RACERS - 1) + ["redeemed"], item

    def test_redeem_race_shared_key(self, open_store):
        results = race(open_store, attempt_redeem_shared_key)
        outcomes = outcomes_by_id(results)
        winner_responses = {
            item: f"response-{racer}"
            for racer, attempts in results.items()
            for item, outcome, _ in attempts
            if outcome == "redeemed"
        }

        assert set(outcomes) == set(RACE_IDS)

        for item, seen in outcomes.items():
            assert sorted(seen) == ["redeemed"] + ["replayed"] * (RACERS - 1), item

        for attempts in results.values():
            for item, outcome, response in attempts:
                if outcome == "replayed":
                    assert response == winner_responses[item], item

    def test_store_shared_across_fork(self, store):
        # Gunicorn forks its workers after the app, and so the store, exists.
        store.check()
        assert store.consume("challenge", "before-fork", expires_at()) is True

        results = race(lambda: store, attempt_consume)
        outcomes = outcomes_by_id(results)

        for item, seen in outcomes.items():
            assert sorted(seen) == ["lost"] * (RACERS - 1) + ["won"], item

        assert set(outcomes) == set(RACE_IDS)
        assert store.consume("challenge", "before-fork", expires_at()) is False
        assert store.consume("challenge", RACE_IDS[0], expires_at()) is False


class TestSQLiteStore:
    @pytest.fixture(autouse=True)
    def umask_022(self) -> Iterator[None]:
        # The common umask 022 lets SQLite's default mode 0644 through, so the
        # tests can fail whatever umask the test runner has.
        previous = os.umask(0o022)
        yield
        os.umask(previous)

    def test_new_store_files_private(self, tmp_path):
        path = tmp_path / "store.sqlite3"
        store = SQLiteStore(path)
        assert store.consume("challenge", "id-1", expires_at()) is True

        for suffix in SQLITE_FILE_SUFFIXES:
            assert file_mode(path, suffix) == 0o600, suffix

    def test_reopened_store_tightens_files(self, tmp_path):
        # The first store's connection stays open, so its -wal and -shm files
        # remain while the second store opens.
        path = tmp_path / "store.sqlite3"
        first = SQLiteStore(path)
        first.consume("challenge", "id-1", expires_at())

        for suffix in SQLITE_FILE_SUFFIXES:
            os.chmod(f"{path}{suffix}", 0o644)

        second = SQLiteStore(path)

        for suffix in SQLITE_FILE_SUFFIXES:
            assert file_mode(path, suffix) == 0o600, suffix

        assert second.consume("challenge", "id-1", expires_at()) is False


    def test_deleted_file_not_recreated(self, tmp_path, caplog):
        path = tmp_path / "store.sqlite3"
        store = SQLiteStore(path)

        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)

        # A new thread opens a new connection, as a new worker thread would.
        errors = []
        thread = threading.Thread(
            target=lambda: _record_error(errors, store.consume, "challenge", "id-2")
        )
        thread.start()
        thread.join()

        assert [type(error) for error in errors] == [StoreUnavailable]
        assert not path.exists()
        assert "database file" in caplog.text
        assert "is missing" in caplog.text


class TestRedisStore:
    def test_down_server_fails_fast(self, start_redis_server):
        server = start_redis_server()
        store = RedisStore(server.url)
        add_pool(store)
        store.consume("challenge", "id-1", expires_at())
        server.stop()

        for name, operation in operations_on(store):
            started = time.monotonic()

            with pytest.raises(StoreUnavailable) as raised:
                operation()

            elapsed = time.monotonic() - started

            assert elapsed < FAIL_FAST_SECONDS, name
            assert raised.value.retry_after == 1, name
            assert raised.value.status == 503, name
            assert "retry shortly" in raised.value.message, name

        store.close()

    def test_paused_server_times_out(self, start_redis_server):
        server = start_redis_server()
        store = RedisStore(server.url, socket_timeout=0.2)
        store.check()
        server.pause()

        try:
            for name, operation in operations_on(store):
                started = time.monotonic()

                with pytest.raises(StoreUnavailable):
                    operation()

                assert time.monotonic() - started < FAIL_FAST_SECONDS, name
        finally:
            server.resume()

        assert store.check() is None
        assert store.consume("challenge", "after-pause", expires_at()) is True
        store.close()

    def test_store_recovers_after_restart(self, start_redis_server):
        server = start_redis_server()
        store = RedisStore(server.url)
        assert store.consume("challenge", "id-1", expires_at()) is True
        server.stop()

        with pytest.raises(StoreUnavailable):
            store.check()

        with pytest.raises(StoreUnavailable):
            store.consume("challenge", "id-2", expires_at())

        server.start()

        assert store.check() is None
        assert store.consume("challenge", "id-2", expires_at()) is True
        assert store.consume("challenge", "id-2", expires_at()) is False
        store.close()

    def test_appendonly_keeps_ids_on_restart(self, start_redis_server):
        server = start_redis_server(appendonly=True)
        store = RedisStore(server.url)
        site = add_pool(store)
        store.consume("challenge", "id-1", expires_at())
        store.redeem(site.id, "token-1", expires_at(), "key-a", "response-a")

        server.restart()

        assert store.consume("challenge", "id-1", expires_at()) is False
        assert store.redeem(site.id, "token-1", expires_at(), "key-a", "") == (
            Redemption.REPLAYED,
            "response-a",
        )
        assert store.site_by_id(site.id) == site
        store.close()

    def test_no_persistence_forgets_ids(self, start_redis_server):
        # The opposite case, so that the test above cannot pass by accident.
        server = start_redis_server(appendonly=False)
        store = RedisStore(server.url)
        store.consume("challenge", "id-1", expires_at())

        server.restart()

        assert store.consume("challenge", "id-1", expires_at()) is True
        store.close()

    def test_keys_expire_at_item_expiry(self, redis_server):
        flush_redis(redis_server.url)
        store = RedisStore(redis_server.url)
        expiry = expires_at() + 0.0004
        store.consume("challenge", "id-1", expiry)
        store.redeem(1, "token-1", expiry, "key-a", "response-a")
        client = redis.Redis.from_url(redis_server.url)
        expected = math.ceil(expiry * 1000)

        try:
            used_challenge = client.pexpiretime("challenge-service:used:challenge:id-1")
            used_token = client.pexpiretime("challenge-service:used:token:token-1")
            idempotency = client.pexpiretime("challenge-service:idempotency:1:token-1")
        finally:
            client.close()

        assert used_challenge == expected
        assert used_token == expected
        assert idempotency == expected
        assert store.purge_expired(expiry + 1) == 0
        store.close()

    def test_expired_id_usable_again(self, redis_server):
        flush_redis(redis_server.url)
        store = RedisStore(redis_server.url)

        assert store.consume("challenge", "id-1", time.time() + 0.05) is True

        time.sleep(0.1)

        assert store.consume("challenge", "id-1", expires_at()) is True
        store.close()

    def test_prefixes_separate_stores(self, redis_server):
        flush_redis(redis_server.url)
        first = RedisStore(redis_server.url, prefix="first:")
        second = RedisStore(redis_server.url, prefix="second:")
        site = add_pool(first)

        assert first.consume("challenge", "id-1", expires_at()) is True
        assert second.consume("challenge", "id-1", expires_at()) is True
        assert second.site_by_sitekey(site.sitekey) is None
        assert second.sites() == []
        first.close()
        second.close()

    def test_scope_with_colon_rejected(self, redis_server):
        store = RedisStore(redis_server.url)

        with pytest.raises(ValueError, match="contains ':'"):
            store.consume("a:b", "id-1", expires_at())

        store.close()

    def test_invalid_url_rejected(self):
        with pytest.raises(ValueError):
            RedisStore("http://127.0.0.1:6379/0")


def file_mode(path: os.PathLike[str], suffix: str) -> int:
    """Return the permission bits of ``path`` with ``suffix`` appended."""
    return stat.S_IMODE(os.stat(f"{path}{suffix}").st_mode)


def operations_on(store: Store) -> list[tuple[str, Callable[[], object]]]:
    """Return every store operation that reaches the server, with its name.

    The lookups use keys that are not in the site cache.
    """
    expiry = expires_at()
    now = time.time()
    return [
        ("add_site", lambda: add_pool(store, 9)),
        ("site_by_id", lambda: store.site_by_id(1)),
        ("site_by_sitekey", lambda: store.site_by_sitekey("site_other")),
        ("site_by_secret_hash", lambda: store.site_by_secret_hash("other", CREATED)),
        ("sites", store.sites),
        ("rotate_secret", lambda: store.rotate_secret("site_1", "new", CREATED)),
        ("consume", lambda: store.consume("challenge", "id-2", expiry)),
        ("redeem", lambda: store.redeem(1, "token-1", expiry, None, "")),
        ("redeem with key", lambda: store.redeem(1, "token-2", expiry, "k", "r")),
        ("check", store.check),
        ("hit", lambda: store.hit("net", "key-1", 60, now)),
        ("count", lambda: store.count("net", "key-1", 60, now)),
        ("take_quota", lambda: store.take_quota("subject", "key-1", "e", 3, 60, now)),
        ("release_quota", lambda: store.release_quota("subject", "key-1", "e")),
        ("record_event", lambda: store.record_event({"kind": "verify"}, now)),
        ("events", lambda: store.events(0, now, 10)),
        ("events of a site", lambda: store.events(0, now, 10, site_id=1)),
        ("purge_expired", lambda: store.purge_expired(now)),
        ("purge", lambda: store.purge(now, 86400, 86400)),
    ]


def attempt_consume(store: Store, racer: int, item: str) -> tuple[str, str | None]:
    won = store.consume("challenge", item, expires_at())
    return ("won" if won else "lost"), None


def attempt_redeem_without_key(
    store: Store, racer: int, item: str
) -> tuple[str, str | None]:
    outcome, response = store.redeem(1, item, expires_at(), None, "")
    return outcome.value, response


def attempt_redeem_own_key(
    store: Store, racer: int, item: str
) -> tuple[str, str | None]:
    outcome, response = store.redeem(
        1, item, expires_at(), f"key-{racer}", f"response-{racer}"
    )
    return outcome.value, response


def attempt_redeem_shared_key(
    store: Store, racer: int, item: str
) -> tuple[str, str | None]:
    outcome, response = store.redeem(
        1, item, expires_at(), "shared-key", f"response-{racer}"
    )
    return outcome.value, response


def _record_error(errors: list, call, *args) -> None:
    try:
        call(*args, expires_at())
    except StoreUnavailable as error:
        errors.append(error)
