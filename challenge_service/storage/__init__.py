"""Store back ends behind one interface."""

from __future__ import annotations

from pathlib import Path

from .base import Redemption as Redemption
from .base import Site as Site
from .base import Store as Store
from .redis import RedisStore as RedisStore
from .sqlite import SQLiteStore as SQLiteStore


def open_store(url: str, sqlite_path: Path) -> Store:
    """Return the Redis store at ``url``, or the SQLite store when it is empty."""
    if url:
        return RedisStore(url)

    return SQLiteStore(sqlite_path)
