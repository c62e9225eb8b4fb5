"""Store back ends behind one interface."""

from __future__ import annotations

from .base import Redemption as Redemption
from .base import Site as Site
from .base import Store as Store
from .redis import RedisStore as RedisStore
from .sqlite import SQLiteStore as SQLiteStore
