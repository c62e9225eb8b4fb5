"""Fixtures that give each contract test a fresh store on every back end.

The SQLite store lives in the test's temporary folder. The Redis store uses one
real ``redis-server`` started for the session, whose keys are deleted before
each test.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from collections.abc import Iterator

import pytest
import redis

from challenge_service.storage import RedisStore
from challenge_service.storage import SQLiteStore
from challenge_service.storage import Store
from tests.redis_server import RedisServer

#: Function that builds a new store on the back end under test. It is
#: picklable, so a worker process can build its own store.
StoreOpener = Callable[[], Store]


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory) -> Iterator[RedisServer]:
    """Start the Redis server that the whole session shares; never stop it in a test."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


def flush_redis(url: str) -> None:
    """Delete every key of the Redis database at ``url``."""
    client = redis.Redis.from_url(url)

    try:
        client.flushdb()
    finally:
        client.close()


@pytest.fixture(params=["sqlite", "redis"])
def open_store(request, tmp_path) -> StoreOpener:
    """Return a function that opens a store on empty data of one back end."""
    if request.param == "sqlite":
        return functools.partial(SQLiteStore, tmp_path / "store.sqlite3")

    server = request.getfixturevalue("redis_server")
    flush_redis(server.url)
    return functools.partial(RedisStore, server.url)


@pytest.fixture
def store(open_store) -> Iterator[Store]:
    """Return a store on empty data, closed after the test."""
    opened = open_store()
    yield opened
    close_store(opened)


def close_store(store: Store) -> None:
    """Close the store's connections if its back end has any to close."""
    close = getattr(store, "close", None)

    if close is not None:
        close()


@pytest.fixture
def start_redis_server(tmp_path) -> Iterator[Callable[..., RedisServer]]:
    """Return a function that starts a Redis server of the test's own.

    Tests that stop, pause or restart a server use these, so the session's
    server stays up. Every server started here is stopped after the test.
    """
    servers: list[RedisServer] = []

    def start(appendonly: bool = False) -> RedisServer:
        server = RedisServer(tmp_path / f"redis-{len(servers)}", appendonly)
        servers.append(server)
        server.start()
        return server

    yield start

    for server in servers:
        server.stop()
