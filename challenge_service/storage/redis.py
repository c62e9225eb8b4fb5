"""Redis store: one shared store for service processes on several machines.

Every key starts with ``prefix`` (``challenge-service:`` by default):

``used:<scope>:<id>``
    ``1`` for a used challenge id (scope ``challenge``) or pass token id (scope
    ``token``). It expires by itself at the ``expires_at`` given to ``consume``.
``idempotency:<site id>:<token id>``
    Hash from the idempotency key of the redemption that spent the token to the
    response stored for it. It expires with the token's used-id key.
``site:<id>``
    Hash with the fields of one site.
``last-site-id``
    Last site id handed out, increased with ``INCR``.
``sitekey:<site key>``, ``secret:<hash>``, ``previous-secret:<hash>``
    Indexes from a site key, a current secret hash and a previous secret hash to
    the site id. The previous secret's expiry is checked on read.

Single use costs one round trip and never reads before it writes: ``consume``
is one ``SET NX PXAT``, and ``redeem`` with an idempotency key is one Lua
script, which Redis runs without interleaving other commands. ``add_site`` and
``rotate_secret`` are Lua scripts too, so a crash never leaves an index that
points to a missing site. The scripts build site keys from ids that they read,
so the store needs a single Redis server (replicas are fine) and does not run
on Redis Cluster.

The store needs Redis 7.0 or later, for ``SET`` with both ``NX`` and ``GET``.
In production, run Redis with ``appendonly yes`` and ``appendfsync everysec``,
so that acknowledged writes survive a restart. A crash of the whole machine can
still lose about the last second of writes, because Redis then calls fsync once
a second. Without persistence a restart forgets every used id, and a pass token
verified before the restart verifies again. Keep the default
``maxmemory-policy noeviction`` for the same reason, because an evicted used-id
key lets its item be used again.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
from collections.abc import Callable
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from ..errors import StoreUnavailable
from .base import StoreBase
from .base import Redemption
from .base import Site

logger = logging.getLogger(__name__)

#: Seconds a pooled connection may stay idle before its next use sends a PING first.
HEALTH_CHECK_INTERVAL = 30

T = TypeVar("T")

# KEYS: the site id counter, the site key index, the secret index.
# ARGV: the prefix of site hashes, then field and value pairs of the new site.
# Returns the new site id, or 0 if the site key or the secret hash is taken.
_ADD_SITE = """
if redis.call("EXISTS", KEYS[2]) == 1 or redis.call("EXISTS", KEYS[3]) == 1 then
    return 0
end

local site_id = redis.call("INCR", KEYS[1])
redis.call("HSET", ARGV[1] .. site_id, "id", site_id, unpack(ARGV, 2))
redis.call("SET", KEYS[2], site_id)
redis.call("SET", KEYS[3], site_id)
return site_id
"""

# KEYS: the site key index.
# ARGV: the key prefix, the new secret hash, the previous secret's expiry.
# Returns the site id, nil for an unknown site key, or 0 if another site has
# the new secret hash.
_ROTATE_SECRET = """
local site_id = redis.call("GET", KEYS[1])

if not site_id then
    return false
end

local prefix = ARGV[1]
local new_index = prefix .. "secret:" .. ARGV[2]
local owner = redis.call("GET", new_index)

if owner and owner ~= site_id then
    return 0
end

local site = prefix .. "site:" .. site_id
local current = redis.call("HGET", site, "secret_hash")
local previous = redis.call("HGET", site, "previous_secret_hash")

if previous then
    local previous_index = prefix .. "previous-secret:" .. previous

    if redis.call("GET", previous_index) == site_id then
        redis.call("DEL", previous_index)
    end
end

redis.call("DEL", prefix .. "secret:" .. current)
redis.call("SET", prefix .. "previous-secret:" .. current, site_id)
redis.call("SET", new_index, site_id)
redis.call(
    "HSET", site, "secret_hash", ARGV[2], "previous_secret_hash", current,
    "previous_secret_expires", ARGV[3]
)
return tonumber(site_id)
"""

# KEYS: the token's used-id key, the token's idempotency hash.
# ARGV: the idempotency key, the response to store, the expiry in Unix ms.
# Returns {"replayed", response}, {"duplicate"} or {"redeemed"}.
_REDEEM = """
local stored = redis.call("HGET", KEYS[2], ARGV[1])

if stored then
    return {"replayed", stored}
end

if not redis.call("SET", KEYS[1], "1", "NX", "PXAT", ARGV[3]) then
    return {"duplicate"}
end

redis.call("HSET", KEYS[2], ARGV[1], ARGV[2])
redis.call("PEXPIREAT", KEYS[2], ARGV[3])
return {"redeemed"}
"""


@dataclasses.dataclass(frozen=True)
class _Connection:
    """A redis-py client and its registered scripts, owned by one process."""

    pid: int
    client: redis.Redis
    add_site: Script
    rotate_secret: Script
    redeem: Script


class RedisStore(StoreBase):
    """Store backed by one Redis server.

    ``socket_timeout`` is the maximum time in seconds to connect or to wait for
    one reply. A command that fails or times out is never sent again, because
    Redis may have run it. The caller gets :class:`StoreUnavailable` instead.
    """

    def __init__(
        self,
        url: str,
        prefix: str = "challenge-service:",
        socket_timeout: float = 0.5,
    ) -> None:
        self.url = url
        self.prefix = prefix
        self.socket_timeout = socket_timeout
        super().__init__()
        # Building the client parses the URL, so a bad URL fails here. The
        # client connects on its first command.
        self._current = self._connect()

    def _connect(self) -> _Connection:
        client = redis.Redis.from_url(
            self.url,
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.socket_timeout,
            health_check_interval=HEALTH_CHECK_INTERVAL,
            # Send no command twice, because a retried SET NX whose first
            # attempt ran would report the item as used by someone else.
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            decode_responses=True,
        )
        return _Connection(
            pid=os.getpid(),
            client=client,
            add_site=client.register_script(_ADD_SITE),
            rotate_secret=client.register_script(_ROTATE_SECRET),
            redeem=client.register_script(_REDEEM),
        )

    def _connection(self) -> _Connection:
        # A client created before a fork must not be used by the child, because
        # both processes would read replies from the same sockets.
        current = self._current

        if current.pid != os.getpid():
            current = self._connect()
            self._current = current

        return current

    def _run(self, operation: Callable[[_Connection], T]) -> T:
        # Any Redis failure (refused, timed out, reset, script error) becomes a
        # retryable 503. The pool drops the failed connection and opens a new
        # one on the next call.
        try:
            return operation(self._connection())
        except redis.exceptions.RedisError as error:
            # The driver's text names the server's address, so it goes to the
            # log and not to the client.
            logger.warning("Redis store failed: %s", error)
            raise StoreUnavailable(
                "The store failed; retry shortly.", retry_after=1
            ) from error

    def close(self) -> None:
        """Close this process's connections to Redis; the next call reopens them."""
        current = self._current

        if current.pid == os.getpid():
            current.client.close()

    def add_site(
        self,
        name: str,
        sitekey: str,
        secret_hash: str,
        hostnames: tuple[str, ...],
        now: float,
        demo: bool = False,
    ) -> Site:
        fields = {
            "name": name,
            "sitekey": sitekey,
            "hostnames": json.dumps(hostnames),
            "secret_hash": secret_hash,
            "created_at": repr(float(now)),
            "demo": "1" if demo else "0",
            "default_level": "0",
        }
        keys = [
            self.prefix + "last-site-id",
            self._index_key("sitekey", sitekey),
            self._index_key("secret", secret_hash),
        ]
        arguments = [self.prefix + "site:"]

        for field, value in fields.items():
            arguments += [field, value]

        site_id = self._run(lambda connection: connection.add_site(keys, arguments))

        if site_id == 0:
            raise ValueError(
                f"A site with the site key {sitekey!r} or with this secret hash"
                " already exists; create the site with a new key and secret."
            )

        site = self.site_by_id(site_id)
        assert site is not None
        return site

    def _index_key(self, index: str, value: str) -> str:
        return f"{self.prefix}{index}:{value}"

    def site_by_id(self, site_id: int) -> Site | None:
        key = f"{self.prefix}site:{site_id}"
        fields = self._run(lambda connection: connection.client.hgetall(key))
        return _site_from_hash(fields) if fields else None

    def _find_site(self, field: str, value: str) -> Site | None:
        key = self._index_key(field, value)
        site_id = self._run(lambda connection: connection.client.get(key))
        return None if site_id is None else self.site_by_id(int(site_id))

    def sites(self) -> list[Site]:
        return self._run(self._read_sites)

    def _read_sites(self, connection: _Connection) -> list[Site]:
        # Ids are handed out one by one and sites are never deleted, so the
        # counter bounds every id in use.
        last_id = int(connection.client.get(self.prefix + "last-site-id") or 0)
        pipeline = connection.client.pipeline(transaction=False)

        for site_id in range(1, last_id + 1):
            pipeline.hgetall(f"{self.prefix}site:{site_id}")

        return [_site_from_hash(fields) for fields in pipeline.execute() if fields]

    def rotate_secret(
        self, sitekey: str, secret_hash: str, previous_expires: float
    ) -> Site | None:
        self._forget_sites()
        keys = [self._index_key("sitekey", sitekey)]
        arguments = [self.prefix, secret_hash, repr(float(previous_expires))]
        site_id = self._run(
            lambda connection: connection.rotate_secret(keys, arguments)
        )

        if site_id is None:
            return None

        if site_id == 0:
            raise ValueError(
                "Another site already has this secret hash; rotate again to get"
                " a new secret."
            )

        return self.site_by_sitekey(sitekey)

    def consume(self, scope: str, item_id: str, expires_at: float) -> bool:
        # NOTE: Redis expires the key on its own clock. An ``expires_at`` that
        # is already past on that clock stores nothing, so the call returns
        # True every time. The service never consumes an expired item.
        key = self._used_key(scope, item_id)
        created = self._run(
            lambda connection: connection.client.set(
                key, "1", nx=True, pxat=_unix_milliseconds(expires_at)
            )
        )
        return bool(created)

    def _used_key(self, scope: str, item_id: str) -> str:
        # A colon in the scope would let two (scope, id) pairs share a key.
        if ":" in scope:
            raise ValueError(f"The scope {scope!r} contains ':'; use a plain word.")

        return f"{self.prefix}used:{scope}:{item_id}"

    def _redeem_with_key(
        self,
        site_id: int,
        token_id: str,
        expires_at: float,
        idempotency_key: str,
        response: str,
    ) -> tuple[Redemption, str | None]:
        keys = [
            self._used_key("token", token_id),
            f"{self.prefix}idempotency:{site_id}:{token_id}",
        ]
        arguments = [idempotency_key, response, _unix_milliseconds(expires_at)]
        result = self._run(lambda connection: connection.redeem(keys, arguments))
        outcome = Redemption(result[0])
        return outcome, result[1] if outcome is Redemption.REPLAYED else None

    def purge_expired(self, now: float) -> int:
        """Return 0: Redis deletes used ids and idempotency records when they expire."""
        return 0

    def claim_setting(self, name: str, value: str) -> str:
        key = f"{self.prefix}setting:{name}"

        def claim(connection: _Connection) -> str:
            # SET NX GET stores the value only if the key is absent and returns
            # the previous value, in one atomic command.
            previous = connection.client.set(key, value, nx=True, get=True)
            return value if previous is None else previous

        return self._run(claim)

    def replace_setting(self, name: str, value: str) -> None:
        key = f"{self.prefix}setting:{name}"
        self._run(lambda connection: connection.client.set(key, value))

    def check(self) -> None:
        self._run(lambda connection: connection.client.ping())


def _unix_milliseconds(timestamp: float) -> int:
    # Round up so that the key never expires before ``timestamp``.
    return math.ceil(timestamp * 1000)


def _site_from_hash(fields: dict[str, str]) -> Site:
    previous_expires = fields.get("previous_secret_expires")
    return Site(
        id=int(fields["id"]),
        name=fields["name"],
        sitekey=fields["sitekey"],
        hostnames=tuple(json.loads(fields["hostnames"])),
        secret_hash=fields["secret_hash"],
        previous_secret_hash=fields.get("previous_secret_hash"),
        previous_secret_expires=(
            None if previous_expires is None else float(previous_expires)
        ),
        created_at=float(fields["created_at"]),
        demo=fields["demo"] == "1",
        default_level=int(fields["default_level"]),
    )
