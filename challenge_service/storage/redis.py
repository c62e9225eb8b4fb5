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
``rate:<name>:<window>:<key>``
    Hash from bucket index to count of one sliding-window counter (see
    ``counter_span`` in ``base.py``). Each add deletes the stale buckets, and
    the key expires when its newest bucket leaves the window.
``quota:<name>:<key>``
    Sorted set of a quota's entries, scored by the Unix time at which each one
    frees its slot. Each take deletes the entries past their window, and the
    key expires with its last entry.
``events:last-id``, ``events:data``, ``events:time``, ``events:site:<site id>``
    Audit events: a counter of event ids, a hash from id to the event's JSON, and
    sorted sets of the ids scored by time, of all events and of each site's.
    Only ``purge`` deletes them, so a Redis store needs it run as often as a
    SQLite store does.

Single use costs one round trip and never reads before it writes: ``consume``
is one ``SET NX PXAT``, and ``redeem`` with an idempotency key is one Lua
script, which Redis runs without interleaving other commands. ``add_site`` and
``rotate_secret`` are Lua scripts too, so a crash never leaves an index that
points to a missing site. The scripts build site keys from ids that they read,
so the store needs a single Redis server (replicas are fine) and does not run
on Redis Cluster. Counters, quotas and audit events are written by Lua scripts
too, each one step that no other client can interleave with.

The store needs Redis 7.0 or later, for ``SET`` with both ``NX`` and ``GET``
and for ``PEXPIRETIME``.
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
import re
from collections.abc import Callable
from collections.abc import Iterator
from typing import TypeVar

import redis
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from ..errors import StoreUnavailable
from .base import CounterSpan
from .base import decode_event
from .base import first_kept_bucket
from .base import Redemption
from .base import Site
from .base import StoreBase

logger = logging.getLogger(__name__)

#: Seconds a pooled connection may stay idle before its next use sends a PING first.
HEALTH_CHECK_INTERVAL = 30

#: Keys or events that one purge script handles, so that no script blocks
#: the server for long. It stays below the 8,000 values that Lua's ``unpack``
#: accepts.
PURGE_BATCH = 1000

#: Event ids that one ``HMGET`` of ``_READ_EVENTS`` reads, below ``unpack``'s limit.
_READ_CHUNK = 1000

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

# Sets a key's expiry to a Unix time in ms unless it already expires later. A
# key without an expiry gets one: PEXPIRETIME returns -1 for it. ``_connect``
# puts this function before the scripts that call it.
_EXPIRE_NO_SOONER = """
local function expire_no_sooner(key, at)
    if redis.call("PEXPIRETIME", key) < tonumber(at) then
        redis.call("PEXPIREAT", key, at)
    end
end
"""

# KEYS: the counter's hash.
# ARGV: the current bucket, the oldest bucket counted, the amount to add, the
# current bucket's expiry in Unix ms.
# Returns the count after the add.
_HIT = """
redis.call("HINCRBY", KEYS[1], ARGV[1], ARGV[3])

local first = tonumber(ARGV[2])
local fields = redis.call("HGETALL", KEYS[1])
local total = 0
local stale = {}

for i = 1, #fields, 2 do
    if tonumber(fields[i]) < first then
        stale[#stale + 1] = fields[i]
    else
        total = total + tonumber(fields[i + 1])
    end
end

if #stale > 0 then
    redis.call("HDEL", KEYS[1], unpack(stale))
end

expire_no_sooner(KEYS[1], ARGV[4])
return total
"""

# KEYS: the quota's sorted set.
# ARGV: now, the new entry's expiry, the limit, the entry, the new entry's
# expiry in Unix ms. The times are strings, because Lua would format numbers
# with 14 significant digits only.
# Returns {1} when it recorded the entry, {1, expiry} when the entry was in the
# log already, or {0, frees_at}.
_TAKE_QUOTA = """
redis.call("ZREMRANGEBYSCORE", KEYS[1], "-inf", ARGV[1])

local existing = redis.call("ZSCORE", KEYS[1], ARGV[4])

if existing then
    return {1, existing}
end

local count = redis.call("ZCARD", KEYS[1])
local limit = tonumber(ARGV[3])

if count < limit then
    redis.call("ZADD", KEYS[1], ARGV[2], ARGV[4])
    expire_no_sooner(KEYS[1], ARGV[5])
    return {1}
end

-- A slot frees when the (count - limit + 1)-th earliest expiry passes.
local frees = redis.call("ZRANGE", KEYS[1], count - limit, count - limit, "WITHSCORES")
return {0, frees[2]}
"""

# KEYS: the event id counter, the event hash, the time index, and the site's
# time index for an event with a site id.
# ARGV: the time in Unix seconds, the event's JSON.
# Ids are zero-padded so that events of the same time sort by id.
_RECORD_EVENT = """
local id = string.format("%016d", redis.call("INCR", KEYS[1]))
redis.call("HSET", KEYS[2], id, ARGV[2])
redis.call("ZADD", KEYS[3], ARGV[1], id)

if KEYS[4] then
    redis.call("ZADD", KEYS[4], ARGV[1], id)
end
"""

# KEYS: a time index (of all events or of one site's), the event hash.
# ARGV: since, until, the maximum number of events, the HMGET chunk size.
# Returns the time and the JSON of each event, flattened.
_READ_EVENTS = """
local found = redis.call(
    "ZRANGE", KEYS[1], ARGV[1], ARGV[2], "BYSCORE", "LIMIT", 0, ARGV[3], "WITHSCORES"
)
local chunk = tonumber(ARGV[4])
local result = {}

for start = 1, #found, 2 * chunk do
    local ids = {}

    for i = start, math.min(#found, start + 2 * chunk - 1), 2 do
        ids[#ids + 1] = found[i]
    end

    local bodies = redis.call("HMGET", KEYS[2], unpack(ids))

    for i = 1, #ids do
        if bodies[i] then
            result[#result + 1] = found[start + 2 * (i - 1) + 1]
            result[#result + 1] = bodies[i]
        end
    end
end

return result
"""

# KEYS: the time index, the event hash.
# ARGV: the cutoff time, the batch size, the key prefix of the site indexes.
# Deletes up to a batch of the oldest events timed at or before the cutoff,
# from the hash and every index. Returns how many it deleted.
_PURGE_EVENTS = """
local ids = redis.call("ZRANGE", KEYS[1], "-inf", ARGV[1], "BYSCORE", "LIMIT", 0, ARGV[2])

if #ids == 0 then
    return 0
end

local bodies = redis.call("HMGET", KEYS[2], unpack(ids))

for i = 1, #ids do
    if bodies[i] then
        local site_id = cjson.decode(bodies[i]).site_id

        if type(site_id) == "number" then
            redis.call("ZREM", ARGV[3] .. string.format("%d", site_id), ids[i])
        end
    end
end

redis.call("HDEL", KEYS[2], unpack(ids))
redis.call("ZREM", KEYS[1], unpack(ids))
return #ids
"""

# KEYS: counter hashes.
# ARGV: for each key, the oldest bucket to keep.
# Returns the number of buckets deleted.
_TRIM_COUNTERS = """
local deleted = 0

for k = 1, #KEYS do
    local keep = tonumber(ARGV[k])
    local stale = {}

    for _, bucket in ipairs(redis.call("HKEYS", KEYS[k])) do
        if tonumber(bucket) < keep then
            stale[#stale + 1] = bucket
        end
    end

    if #stale > 0 then
        deleted = deleted + redis.call("HDEL", KEYS[k], unpack(stale))
    end
end

return deleted
"""

# KEYS: quota sorted sets.
# ARGV: now.
# Returns the number of entries deleted.
_TRIM_QUOTAS = """
local deleted = 0

for k = 1, #KEYS do
    deleted = deleted + redis.call("ZREMRANGEBYSCORE", KEYS[k], "-inf", ARGV[1])
end

return deleted
"""


@dataclasses.dataclass(frozen=True)
class _Connection:
    """A redis-py client and its registered scripts, owned by one process."""

    pid: int
    client: redis.Redis
    add_site: Script
    rotate_secret: Script
    redeem: Script
    hit: Script
    take_quota: Script
    record_event: Script
    read_events: Script
    purge_events: Script
    trim_counters: Script
    trim_quotas: Script


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
            hit=client.register_script(_EXPIRE_NO_SOONER + _HIT),
            take_quota=client.register_script(_EXPIRE_NO_SOONER + _TAKE_QUOTA),
            record_event=client.register_script(_RECORD_EVENT),
            read_events=client.register_script(_READ_EVENTS),
            purge_events=client.register_script(_PURGE_EVENTS),
            trim_counters=client.register_script(_TRIM_COUNTERS),
            trim_quotas=client.register_script(_TRIM_QUOTAS),
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

    def _purge_used(self, now: float) -> int:
        # Redis deletes used ids and idempotency records when they expire.
        return 0

    def _counter_key(self, name: str, window: int, key: str) -> str:
        # The name has no colon and the key comes last, so keys never collide.
        return f"{self.prefix}rate:{name}:{window}:{key}"

    def _quota_key(self, name: str, key: str) -> str:
        return f"{self.prefix}quota:{name}:{key}"

    def _hit(
        self, name: str, key: str, window: int, span: CounterSpan, amount: int
    ) -> int:
        # NOTE: Counter and quota keys expire on the server's clock at times
        # derived from the caller's ``now``. A ``now`` more than a window
        # behind that clock makes the key expire at once, so the next count
        # misses the events just added.
        keys = [self._counter_key(name, window, key)]
        arguments = [span.current, span.first, amount, span.expires_ms]
        return self._run(lambda connection: connection.hit(keys, arguments))

    def _observe(
        self,
        hits: list[tuple[str, str, int, CounterSpan]],
        reads: list[tuple[str, str, int, CounterSpan]],
    ) -> tuple[list[int], list[int]]:
        def observe(connection: _Connection) -> tuple[list[int], list[int]]:
            # One pipeline, one round trip; each hit script is atomic alone.
            pipeline = connection.client.pipeline(transaction=False)

            for name, key, window, span in hits:
                connection.hit(
                    [self._counter_key(name, window, key)],
                    [span.current, span.first, 1, span.expires_ms],
                    client=pipeline,
                )

            for name, key, window, _ in reads:
                pipeline.hgetall(self._counter_key(name, window, key))

            results = pipeline.execute()
            read_counts = [
                sum(
                    int(count)
                    for bucket, count in buckets.items()
                    if int(bucket) >= span.first
                )
                for buckets, (_, _, _, span) in zip(results[len(hits) :], reads)
            ]
            return [int(total) for total in results[: len(hits)]], read_counts

        return self._run(observe)

    def _add_counts(self, counts: list[tuple[str, str, int, CounterSpan, int]]) -> None:
        def add(connection: _Connection) -> None:
            pipeline = connection.client.pipeline(transaction=False)

            for name, key, window, span, amount in counts:
                connection.hit(
                    [self._counter_key(name, window, key)],
                    [span.current, span.first, amount, span.expires_ms],
                    client=pipeline,
                )

            pipeline.execute()

        self._run(add)

    def _count(self, name: str, key: str, window: int, span: CounterSpan) -> int:
        counter_key = self._counter_key(name, window, key)
        buckets = self._run(lambda connection: connection.client.hgetall(counter_key))
        return sum(
            int(count) for bucket, count in buckets.items() if int(bucket) >= span.first
        )

    def _take_quota(
        self, name: str, key: str, entry: str, limit: int, now: float, expires_at: float
    ) -> tuple[bool, float | None]:
        keys = [self._quota_key(name, key)]
        arguments = [
            repr(float(now)),
            repr(float(expires_at)),
            limit,
            entry,
            _unix_milliseconds(expires_at),
        ]
        result = self._run(lambda connection: connection.take_quota(keys, arguments))
        expires_or_frees_at = float(result[1]) if len(result) > 1 else None
        return result[0] == 1, expires_or_frees_at

    def _release_quota(self, name: str, key: str, entry: str) -> None:
        quota_key = self._quota_key(name, key)
        self._run(lambda connection: connection.client.zrem(quota_key, entry))

    # Audit events live in sorted sets scored by time rather than in a stream.
    # XADD rejects an id below the stream's last one, but events arrive out of
    # time order from several instances and from callers that pass ``now``.
    # A sorted set also gives each site an index that holds only ids, so the
    # JSON is stored once.
    def _record_event(self, now: float, site_id: int | None, text: str) -> None:
        self._record_events([(now, site_id, text)])

    def _record_events(self, encoded: list[tuple[float, int | None, str]]) -> None:
        def record(connection: _Connection) -> None:
            # One pipeline, one round trip; each event's script is atomic.
            pipeline = connection.client.pipeline(transaction=False)

            for now, site_id, text in encoded:
                keys = [
                    self.prefix + "events:last-id",
                    self.prefix + "events:data",
                    self.prefix + "events:time",
                ]

                if site_id is not None:
                    keys.append(f"{self.prefix}events:site:{site_id}")

                connection.record_event(keys, [repr(float(now)), text], client=pipeline)

            pipeline.execute()

        self._run(record)

    def _events(
        self, since: float, until: float, limit: int, site_id: int | None
    ) -> list[dict]:
        if site_id is None:
            index = self.prefix + "events:time"
        else:
            index = f"{self.prefix}events:site:{site_id}"

        keys = [index, self.prefix + "events:data"]
        arguments = [repr(float(since)), repr(float(until)), limit, _READ_CHUNK]
        found = self._run(lambda connection: connection.read_events(keys, arguments))
        return [
            decode_event(float(found[i]), found[i + 1]) for i in range(0, len(found), 2)
        ]

    def _purge_events(self, cutoff: float) -> int:
        keys = [self.prefix + "events:time", self.prefix + "events:data"]
        arguments = [repr(float(cutoff)), PURGE_BATCH, self.prefix + "events:site:"]

        def purge(connection: _Connection) -> int:
            deleted = 0

            while True:
                batch = connection.purge_events(keys, arguments)
                deleted += batch

                if batch < PURGE_BATCH:
                    return deleted

        return self._run(purge)

    def _purge_counters(self, now: float, cutoff: float | None) -> int:
        # Expired keys are gone already, but a purge with a cutoff, or with a
        # ``now`` ahead of the server's clock, trims live ones too. SCAN reads
        # every key of the database, PURGE_BATCH at a time, to find them.
        rate_prefix = self.prefix + "rate:"

        def purge(connection: _Connection) -> int:
            deleted = 0

            for keys in self._scan_batches(connection, rate_prefix):
                counter_keys = []
                first_kept_buckets = []

                for key in keys:
                    window = _counter_window(key[len(rate_prefix) :])

                    if window is not None:
                        counter_keys.append(key)
                        first_kept_buckets.append(
                            first_kept_bucket(window, now, cutoff)
                        )

                if counter_keys:
                    deleted += connection.trim_counters(
                        counter_keys, first_kept_buckets
                    )

            return deleted

        return self._run(purge)

    def _purge_quotas(self, now: float) -> int:
        def purge(connection: _Connection) -> int:
            deleted = 0

            for keys in self._scan_batches(connection, self.prefix + "quota:"):
                deleted += connection.trim_quotas(keys, [repr(float(now))])

            return deleted

        return self._run(purge)

    def _scan_batches(
        self, connection: _Connection, key_prefix: str
    ) -> Iterator[list[str]]:
        # SCAN may return a key twice, which the trimming scripts allow.
        batch: list[str] = []

        for key in connection.client.scan_iter(
            match=_glob_escape(key_prefix) + "*", count=PURGE_BATCH
        ):
            batch.append(key)

            if len(batch) == PURGE_BATCH:
                yield batch
                batch = []

        if batch:
            yield batch

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

    def delete_setting(self, name: str) -> bool:
        key = f"{self.prefix}setting:{name}"
        return self._run(lambda connection: connection.client.delete(key)) > 0

    def setting(self, name: str) -> str | None:
        key = f"{self.prefix}setting:{name}"
        return self._run(lambda connection: connection.client.get(key))

    def check(self) -> None:
        self._run(lambda connection: connection.client.ping())


def _counter_window(rest: str) -> int | None:
    """Return the window of a counter key without its ``rate:`` prefix, or None."""
    parts = rest.split(":", 2)

    if len(parts) != 3 or not parts[1].isdigit() or int(parts[1]) < 1:
        return None

    return int(parts[1])


def _glob_escape(text: str) -> str:
    """Escape the characters that SCAN's MATCH pattern treats as special."""
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


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
