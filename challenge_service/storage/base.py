"""The store interface that every back end implements.

The store records what must not happen twice (answered challenges, verified
pass tokens, idempotent verify answers), the sites, and what the risk policy
needs: sliding-window counters, quotas and audit events. Challenge content is
derived from signed envelopes, so it is never stored.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import re
import time
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class Site:
    """One portal integration."""

    id: int
    name: str
    sitekey: str
    hostnames: tuple[str, ...]
    secret_hash: str
    #: Hash of the secret that was replaced, accepted until ``previous_secret_expires``.
    previous_secret_hash: str | None
    previous_secret_expires: float | None
    created_at: float
    demo: bool
    #: Level of every challenge of this site until the risk policy sets one.
    default_level: int


class Redemption(enum.Enum):
    """Outcome of an attempt to redeem a pass token."""

    #: First redemption: the token is now spent.
    REDEEMED = "redeemed"
    #: Retry with the idempotency key of an earlier success: same answer again.
    REPLAYED = "replayed"
    #: The token was spent before.
    DUPLICATE = "duplicate"


#: Seconds a process reuses a site it read. A change made by another process,
#: such as a rotated secret, is seen after at most this delay.
SITE_CACHE_TTL = 5.0

#: Sites kept per process; the cache is emptied when it is full.
SITE_CACHE_SIZE = 1024

#: Buckets per counter window. A count includes every event of the window and
#: may include events up to one bucket width (``window / 10``) older.
COUNTER_BUCKETS = 10

#: Maximum window of a counter or quota, in seconds (366 days).
MAX_WINDOW = 366 * 86400

#: Maximum ``amount`` that one ``hit`` may add.
MAX_HIT_AMOUNT = 1_000_000

#: Maximum quota ``limit``. It bounds the entries stored per quota.
MAX_QUOTA_LIMIT = 10_000

#: Maximum length of a counter or quota key and of a quota entry, in characters.
MAX_KEY_LENGTH = 128

#: Maximum size of an audit event, in bytes of its compact UTF-8 JSON form.
MAX_EVENT_BYTES = 1024

#: Maximum number of events that one ``events`` call may return.
MAX_EVENTS_LIMIT = 10_000

#: Counter and quota names: short codes such as ``net`` or ``subject``. The
#: Redis store puts them in key names, so they cannot contain ``:``.
_NAME_PATTERN = re.compile(r"[A-Za-z0-9_.-]{1,32}")

#: Maximum Unix time or duration, in seconds (about the year 5138). SQLite
#: stores integers of 64 bits only, and times in ms must fit.
MAX_SECONDS = 100_000_000_000

#: Maximum site id in an audit event. Redis's Lua reads JSON numbers as
#: doubles, which are exact up to 2**53.
MAX_SITE_ID = 2**53

#: Field that ``events`` adds to every audit event, so events cannot set it.
EVENT_TIME_FIELD = "time"


@dataclasses.dataclass(frozen=True)
class CounterSpan:
    """Buckets of a counter that a count at one instant reads, in Unix milliseconds."""

    #: Width of one bucket: ``window / COUNTER_BUCKETS``.
    bucket_ms: int
    #: Index of the bucket that contains ``now``: ``now_ms // bucket_ms``.
    current: int
    #: Oldest bucket counted, the one that contains ``now - window``. Older buckets
    #: are stale: reads ignore them and writes and purges delete them.
    first: int
    #: When the current bucket stops being counted, in Unix milliseconds.
    expires_ms: int


def bucket_index(window: int, now: float) -> int:
    """Return the index of the bucket of a ``window``-second counter that contains ``now``."""
    return math.floor(now * 1000) // (window * 1000 // COUNTER_BUCKETS)


def counter_span(window: int, now: float) -> CounterSpan:
    """Return the buckets of a ``window``-second counter read at ``now``.

    Every quantity is in whole milliseconds, so that both stores put an
    event in the same bucket and agree on the window's edges.
    """
    now_ms = math.floor(now * 1000)
    window_ms = window * 1000
    bucket_ms = window_ms // COUNTER_BUCKETS
    current = now_ms // bucket_ms
    return CounterSpan(
        bucket_ms=bucket_ms,
        current=current,
        first=(now_ms - window_ms) // bucket_ms,
        expires_ms=(current + 1) * bucket_ms + window_ms,
    )


def first_kept_bucket(window: int, now: float, cutoff: float | None) -> int:
    """Return the oldest bucket of a counter that a purge at ``now`` keeps.

    A purge deletes the buckets past the window and, when ``cutoff`` is
    given, the buckets that ended at or before ``cutoff``.
    """
    span = counter_span(window, now)

    if cutoff is None:
        return span.first

    # Bucket i ends at (i + 1) * bucket_ms, which is after the cutoff exactly
    # when i >= cutoff_ms // bucket_ms.
    return max(span.first, math.floor(cutoff * 1000) // span.bucket_ms)


def validate_time(value: float, parameter: str) -> None:
    """Raise ValueError unless ``value`` is a number of seconds within ±``MAX_SECONDS``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
    ):
        raise ValueError(
            f"{parameter}={value!r} is not a finite number of seconds; pass a"
            " Unix time or a duration as an int or float."
        )

    if abs(value) > MAX_SECONDS:
        raise ValueError(
            f"{parameter}={value!r} is out of range; pass from -{MAX_SECONDS} to"
            f" {MAX_SECONDS} seconds."
        )


def _validate_site_id(value: int | None, parameter: str) -> None:
    if value is None:
        return

    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"{parameter}={value!r} is not an int; pass a site id or None."
        )

    if not 0 <= value <= MAX_SITE_ID:
        raise ValueError(
            f"{parameter}={value} is out of range; pass a site id from 0 to"
            f" {MAX_SITE_ID}."
        )


def _validate_int(value: int, parameter: str, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"{parameter}={value!r} is not an int; pass a whole number from"
            f" {low} to {high}."
        )

    if not low <= value <= high:
        raise ValueError(
            f"{parameter}={value} is out of range; pass a whole number from"
            f" {low} to {high}."
        )


def _validate_name(name: str) -> None:
    if not isinstance(name, str) or _NAME_PATTERN.fullmatch(name) is None:
        raise ValueError(
            f"name={name!r} is invalid; use 1 to 32 letters, digits, '_', '-'"
            " or '.', such as 'net'."
        )


def _validate_opaque(value: str, parameter: str) -> None:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_KEY_LENGTH:
        raise ValueError(
            f"{parameter} must be a string of 1 to {MAX_KEY_LENGTH} characters;"
            " pass a hash or an id, not the raw value."
        )


def encode_event(event: dict) -> tuple[str, int | None]:
    """Return an audit event as compact JSON, and its site id.

    Raise ValueError naming the field at fault unless ``event`` is a flat dict
    with string keys and str, int, float, bool, None or list-of-str values, and
    its JSON is at most ``MAX_EVENT_BYTES`` bytes.
    """
    if not isinstance(event, dict):
        raise ValueError(f"event is a {type(event).__name__}; pass a dict of fields.")

    for field, value in event.items():
        if not isinstance(field, str):
            raise ValueError(
                f"event field name {field!r} is not a string; use str field names."
            )

        if field == EVENT_TIME_FIELD:
            raise ValueError(
                f"event field {field!r} is reserved for the time that the store"
                " records; remove it from the event."
            )

        if not _is_flat_value(value):
            raise ValueError(
                f"event field {field!r} is a {type(value).__name__}; use a str,"
                " int, float, None or a list of str."
            )

    site_id = event.get("site_id")
    _validate_site_id(site_id, "event field site_id")

    try:
        text = json.dumps(
            event, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except ValueError:
        raise ValueError(
            "event has a NaN or infinite float; store a finite number or None."
        ) from None

    try:
        size = len(text.encode())
    except UnicodeEncodeError:
        raise ValueError(
            "event has a string that is not valid Unicode (a lone surrogate);"
            " decode the text it came from with errors='replace'."
        ) from None

    if size > MAX_EVENT_BYTES:
        raise ValueError(
            f"event is {size} bytes as JSON, over the limit of {MAX_EVENT_BYTES};"
            " store ids or hashes instead of long values."
        )

    return text, site_id


def _is_flat_value(value: object) -> bool:
    if value is None or isinstance(value, (str, int, float)):
        return True

    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def decode_event(time_value: float, text: str) -> dict:
    """Return a stored audit event with its ``time`` field added."""
    event = json.loads(text)
    event[EVENT_TIME_FIELD] = time_value
    return event


class StoreBase:
    """Base of the stores: cached site lookups, the keyless token redeem, and
    the argument checks of counters, quotas, audit events and purges.

    Every challenge and every verify looks a site up, so each process keeps
    the sites it found for ``SITE_CACHE_TTL`` seconds. Only found sites are
    cached, so unknown keys sent by a client cannot fill the cache. A back end
    implements ``_find_site`` for the fields ``sitekey``, ``secret`` and
    ``previous-secret``, ``consume``, ``_redeem_with_key``, and the
    underscored steps that the public methods below call with checked
    arguments.
    """

    def __init__(self) -> None:
        self._site_cache: dict[tuple[str, str], tuple[Site, float]] = {}

    def _find_site(self, field: str, value: str) -> Site | None:
        raise NotImplementedError

    def _cached_site(self, field: str, value: str) -> Site | None:
        key = (field, value)
        cached = self._site_cache.get(key)

        if cached is not None and cached[1] > time.monotonic():
            return cached[0]

        site = self._find_site(field, value)

        if site is not None:
            if len(self._site_cache) >= SITE_CACHE_SIZE:
                self._site_cache.clear()

            self._site_cache[key] = (site, time.monotonic() + SITE_CACHE_TTL)

        return site

    def _forget_sites(self) -> None:
        self._site_cache.clear()

    def site_by_sitekey(self, sitekey: str) -> Site | None:
        return self._cached_site("sitekey", sitekey)

    def site_by_secret_hash(self, secret_hash: str, now: float) -> Site | None:
        site = self._cached_site("secret", secret_hash)

        if site is not None:
            return site

        site = self._cached_site("previous-secret", secret_hash)

        if site is None or (site.previous_secret_expires or 0) <= now:
            return None

        return site

    def redeem(
        self,
        site_id: int,
        token_id: str,
        expires_at: float,
        idempotency_key: str | None,
        response: str,
    ) -> tuple[Redemption, str | None]:
        """Spend a pass token in one atomic step; see :meth:`Store.redeem`."""
        if idempotency_key is None:
            spent = self.consume("token", token_id, expires_at)
            return (Redemption.REDEEMED if spent else Redemption.DUPLICATE), None

        return self._redeem_with_key(
            site_id, token_id, expires_at, idempotency_key, response
        )

    def consume(self, scope: str, item_id: str, expires_at: float) -> bool:
        raise NotImplementedError

    def _redeem_with_key(
        self,
        site_id: int,
        token_id: str,
        expires_at: float,
        idempotency_key: str,
        response: str,
    ) -> tuple[Redemption, str | None]:
        raise NotImplementedError

    def hit(self, name: str, key: str, window: int, now: float, amount: int = 1) -> int:
        """Add events to a counter and count it; see :meth:`Store.hit`."""
        _validate_counter(name, key, window, now)
        _validate_int(amount, "amount", 1, MAX_HIT_AMOUNT)
        return self._hit(name, key, window, counter_span(window, now), amount)

    def count(self, name: str, key: str, window: int, now: float) -> int:
        """Count a counter's events; see :meth:`Store.count`."""
        _validate_counter(name, key, window, now)
        return self._count(name, key, window, counter_span(window, now))

    def count_names(
        self, names: tuple[str, ...], key: str, window: int, now: float
    ) -> list[int]:
        """Count counters of one key and window; see :meth:`Store.count_names`."""
        validate_time(now, "now")

        for name in names:
            _validate_counter_key(name, key, window)

        return self._count_names(names, key, window, counter_span(window, now))

    def _count_names(
        self, names: tuple[str, ...], key: str, window: int, span: CounterSpan
    ) -> list[int]:
        return self._observe([], [(name, key, window, span) for name in names])[1]

    def observe(
        self,
        hits: list[tuple[str, str, int]],
        reads: list[tuple[str, str, int]],
        now: float,
    ) -> tuple[list[int], list[int]]:
        """Hit and count several counters at once; see :meth:`Store.observe`."""
        validate_time(now, "now")
        # Every challenge request observes several counters of one or two
        # windows, so each window's span is computed once.
        spans: dict[int, CounterSpan] = {}

        def with_spans(
            counters: list[tuple[str, str, int]],
        ) -> list[tuple[str, str, int, CounterSpan]]:
            result = []

            for name, key, window in counters:
                _validate_counter_key(name, key, window)
                span = spans.get(window)

                if span is None:
                    span = spans[window] = counter_span(window, now)

                result.append((name, key, window, span))

            return result

        return self._observe(with_spans(hits), with_spans(reads))

    def _observe(
        self,
        hits: list[tuple[str, str, int, CounterSpan]],
        reads: list[tuple[str, str, int, CounterSpan]],
    ) -> tuple[list[int], list[int]]:
        hit_counts = [
            self._hit(name, key, window, span, 1) for name, key, window, span in hits
        ]
        read_counts = [
            self._count(name, key, window, span) for name, key, window, span in reads
        ]
        return hit_counts, read_counts

    def add_counts(self, counts: list[tuple[str, str, int, float, int]]) -> None:
        """Add events to several counters at once; see :meth:`Store.add_counts`."""
        grouped: dict[tuple[str, str, int, int], list] = {}
        # A flush adds hundreds of events of a few windows and buckets, so
        # each bucket's span is built once.
        spans: dict[tuple[int, int], CounterSpan] = {}

        for name, key, window, now, amount in counts:
            _validate_counter(name, key, window, now)
            _validate_int(amount, "amount", 1, MAX_HIT_AMOUNT)
            current = bucket_index(window, now)
            span = spans.get((window, current))

            if span is None:
                span = spans[(window, current)] = counter_span(window, now)

            bucket = (name, key, window, current)

            if bucket in grouped:
                grouped[bucket][4] += amount
            else:
                grouped[bucket] = [name, key, window, span, amount]

        if grouped:
            self._add_counts([tuple(entry) for entry in grouped.values()])

    def _add_counts(self, counts: list[tuple[str, str, int, CounterSpan, int]]) -> None:
        for name, key, window, span, amount in counts:
            self._hit(name, key, window, span, amount)

    def take_quota(
        self, name: str, key: str, entry: str, limit: int, window: int, now: float
    ) -> tuple[bool, float | None]:
        """Take a quota slot if one is free; see :meth:`Store.take_quota`."""
        _validate_name(name)
        _validate_opaque(key, "key")
        _validate_opaque(entry, "entry")
        _validate_int(limit, "limit", 1, MAX_QUOTA_LIMIT)
        _validate_int(window, "window", 1, MAX_WINDOW)
        validate_time(now, "now")
        return self._take_quota(name, key, entry, limit, now, now + window)

    def release_quota(self, name: str, key: str, entry: str) -> None:
        """Free an entry's quota slot; see :meth:`Store.release_quota`."""
        _validate_name(name)
        _validate_opaque(key, "key")
        _validate_opaque(entry, "entry")
        self._release_quota(name, key, entry)

    def record_event(self, event: dict, now: float) -> None:
        """Append an audit event; see :meth:`Store.record_event`."""
        validate_time(now, "now")
        text, site_id = encode_event(event)
        self._record_event(now, site_id, text)

    def record_events(self, events: list[tuple[dict, float]]) -> None:
        """Append several audit events at once; see :meth:`Store.record_events`."""
        encoded = []

        for event, now in events:
            validate_time(now, "now")
            text, site_id = encode_event(event)
            encoded.append((now, site_id, text))

        self._record_events(encoded)

    def _record_events(self, encoded: list[tuple[float, int | None, str]]) -> None:
        for now, site_id, text in encoded:
            self._record_event(now, site_id, text)

    def events(
        self, since: float, until: float, limit: int, site_id: int | None = None
    ) -> list[dict]:
        """Read audit events, oldest first; see :meth:`Store.events`."""
        validate_time(since, "since")
        validate_time(until, "until")
        _validate_int(limit, "limit", 1, MAX_EVENTS_LIMIT)
        _validate_site_id(site_id, "site_id")

        return self._events(since, until, limit, site_id)

    def purge_expired(self, now: float) -> int:
        """Delete records past their expiry; see :meth:`Store.purge_expired`."""
        validate_time(now, "now")
        return (
            self._purge_used(now)
            + self._purge_counters(now, None)
            + self._purge_quotas(now)
        )

    def purge(
        self, now: float, audit_retention: float, rate_retention: float
    ) -> dict[str, int]:
        """Delete expired and old records; see :meth:`Store.purge`."""
        validate_time(now, "now")

        for parameter, value in (
            ("audit_retention", audit_retention),
            ("rate_retention", rate_retention),
        ):
            validate_time(value, parameter)

            if value < 0:
                raise ValueError(
                    f"{parameter}={value!r} is negative; pass the seconds to keep"
                    " records, 0 or more."
                )

        return {
            "used": self._purge_used(now),
            "counters": self._purge_counters(now, now - rate_retention),
            "quotas": self._purge_quotas(now),
            "events": self._purge_events(now - audit_retention),
        }

    def _hit(
        self, name: str, key: str, window: int, span: CounterSpan, amount: int
    ) -> int:
        raise NotImplementedError

    def _count(self, name: str, key: str, window: int, span: CounterSpan) -> int:
        raise NotImplementedError

    def _take_quota(
        self, name: str, key: str, entry: str, limit: int, now: float, expires_at: float
    ) -> tuple[bool, float | None]:
        raise NotImplementedError

    def _release_quota(self, name: str, key: str, entry: str) -> None:
        raise NotImplementedError

    def _record_event(self, now: float, site_id: int | None, text: str) -> None:
        raise NotImplementedError

    def _events(
        self, since: float, until: float, limit: int, site_id: int | None
    ) -> list[dict]:
        raise NotImplementedError

    def _purge_used(self, now: float) -> int:
        raise NotImplementedError

    def _purge_counters(self, now: float, cutoff: float | None) -> int:
        raise NotImplementedError

    def _purge_quotas(self, now: float) -> int:
        raise NotImplementedError

    def _purge_events(self, cutoff: float) -> int:
        raise NotImplementedError


#: Counter names and windows that passed validation; a service uses a handful.
_VALID_COUNTERS: set[tuple[str, int]] = set()


def _validate_counter(name: str, key: str, window: int, now: float) -> None:
    _validate_counter_key(name, key, window)
    validate_time(now, "now")


def _validate_counter_key(name: str, key: str, window: int) -> None:
    # Every challenge request checks several counters, so the name and
    # window checks run once per pair. The key varies every call.
    if (
        type(name) is not str
        or type(window) is not int
        or (name, window) not in _VALID_COUNTERS
    ):
        _validate_name(name)
        _validate_int(window, "window", 1, MAX_WINDOW)

        if len(_VALID_COUNTERS) < 256:
            _VALID_COUNTERS.add((name, window))

    _validate_opaque(key, "key")


class Store(Protocol):
    """Storage used by the service; every method is safe across processes.

    A method raises :class:`~challenge_service.errors.StoreUnavailable` when
    the back end fails or times out.
    """

    def add_site(
        self,
        name: str,
        sitekey: str,
        secret_hash: str,
        hostnames: tuple[str, ...],
        now: float,
        demo: bool = False,
    ) -> Site:
        """Insert a new site and return it."""

    def site_by_id(self, site_id: int) -> Site | None:
        """Return the site with this id, or None."""

    def site_by_sitekey(self, sitekey: str) -> Site | None:
        """Return the site with this public key, or None."""

    def site_by_secret_hash(self, secret_hash: str, now: float) -> Site | None:
        """Return the site whose current or still-valid previous secret has this hash."""

    def sites(self) -> list[Site]:
        """Return every site, oldest first."""

    def rotate_secret(
        self, sitekey: str, secret_hash: str, previous_expires: float
    ) -> Site | None:
        """Replace a site's secret, keeping the old one valid until ``previous_expires``."""

    def consume(self, scope: str, item_id: str, expires_at: float) -> bool:
        """Mark ``item_id`` used; return False if it was used before.

        The record is kept until ``expires_at``, after which the signed item is
        rejected as expired anyway.
        """

    def redeem(
        self,
        site_id: int,
        token_id: str,
        expires_at: float,
        idempotency_key: str | None,
        response: str,
    ) -> tuple[Redemption, str | None]:
        """Spend a pass token in one atomic step.

        With an idempotency key, a later call with the same site, token and key
        gets ``REPLAYED`` and the ``response`` stored by the first call.
        Without a key, ``response`` is not stored and may be empty.
        """

    def hit(self, name: str, key: str, window: int, now: float, amount: int = 1) -> int:
        """Add ``amount`` events at ``now`` to a counter; return its count.

        The count is the number of events of the counter in the last
        ``window`` seconds, including these, as :meth:`count` returns it. The
        add and the count are one atomic step, so concurrent callers on any
        process or instance each see their own events and every earlier one.

        A counter is identified by ``name``, ``key`` and ``window``: the same
        name and key with another window is another counter. ``name`` is a
        short code (letters, digits, ``_``, ``-``, ``.``), ``key`` an opaque
        string of up to 128 characters, ``window`` whole seconds from 1 to 366
        days, ``amount`` from 1 to 1,000,000, and ``now`` Unix seconds. Bad
        arguments raise ValueError. Once its newest bucket leaves the window, a
        counter's data is ignored by reads, deleted by Redis on its own or by a
        purge of the SQLite store.
        """

    def count(self, name: str, key: str, window: int, now: float) -> int:
        """Return the number of events of a counter in the last ``window`` seconds.

        The window is split into 10 buckets of ``window / 10`` seconds, and
        events are counted per bucket, with times truncated to milliseconds.
        The count includes every event from ``now - window`` to ``now``, both
        included, and may include events up to ``window / 10`` seconds older,
        which share the oldest bucket. So an event is counted from its time
        for at least ``window`` seconds and for less than ``window * 1.1``
        seconds. Events timed after ``now``, as another instance whose clock
        runs ahead may record them, are counted too. It only reads.
        """

    def count_names(
        self, names: tuple[str, ...], key: str, window: int, now: float
    ) -> list[int]:
        """Return the counts of the counters ``names`` of one key and window.

        Each count is the one :meth:`count` returns, and all come from one
        query or round trip.
        """

    def take_quota(
        self, name: str, key: str, entry: str, limit: int, window: int, now: float
    ) -> tuple[bool, float | None]:
        """Record ``entry`` in a quota's log if it has fewer than ``limit`` entries.

        The log of ``name`` and ``key`` is exact: an entry taken at time ``t``
        with a window of ``window`` seconds occupies a slot while
        ``now < t + window``. If fewer than ``limit`` entries occupy a slot,
        ``entry`` is recorded at ``now`` and the result is ``(True, None)``.
        Otherwise nothing is recorded and the result is ``(False, frees_at)``,
        where ``frees_at`` is the Unix time at which a slot frees: when the
        oldest entry leaves, or a later one if the log holds more than
        ``limit`` entries because the limit was lowered.

        An entry that already occupies a slot keeps it and its time, and
        taking it again records nothing and returns ``(True, expires_at)``,
        the time its slot frees. A caller that releases the slot when a later
        step fails should release it only after ``(True, None)``. Otherwise a
        retry would free the slot of the call that recorded the entry.

        The check and the write are one atomic step, so of concurrent callers
        on any process or instance that race for the last slot exactly one
        gets it. ``entry`` is an opaque id of up to 128 characters, ``limit``
        is from 1 to 10,000, and ``window`` whole seconds from 1 to 366 days.
        Bad arguments raise ValueError.
        """

    def release_quota(self, name: str, key: str, entry: str) -> None:
        """Remove ``entry`` from a quota's log, freeing its slot at once.

        Nothing happens if the entry is not in the log.
        """

    def record_event(self, event: dict, now: float) -> None:
        """Append an audit event that happened at ``now`` (Unix seconds).

        ``event`` is a flat dict with string keys and str, int, float, bool,
        None or list-of-str values, at most 1,024 bytes as compact UTF-8 JSON.
        An int ``site_id`` field lets :meth:`events` filter by site. The field
        ``time`` is reserved for the store. Anything else raises ValueError
        naming the field.
        """

    def events(
        self, since: float, until: float, limit: int, site_id: int | None = None
    ) -> list[dict]:
        """Return at most ``limit`` audit events timed from ``since`` to ``until``.

        Both ends are included. The events come oldest first, events of the
        same time in the order they were recorded, each as recorded plus a
        ``time`` field. With ``site_id`` only that site's events are returned.
        ``limit`` is from 1 to 10,000.
        """

    def purge_expired(self, now: float) -> int:
        """Delete records past their expiry at ``now``; return the count.

        These are used ids, idempotency records, counter buckets that no count
        at ``now`` or later reads, and quota entries that no longer occupy a
        slot. Audit events are deleted by :meth:`purge` only.
        """

    def purge(
        self, now: float, audit_retention: float, rate_retention: float
    ) -> dict[str, int]:
        """Delete expired and old records; return the count of each kind.

        It deletes what :meth:`purge_expired` deletes, audit events timed at or
        before ``now - audit_retention``, and counter buckets that ended at or
        before ``now - rate_retention``. A counter whose window is longer than
        ``rate_retention`` therefore counts only about ``rate_retention``
        seconds after a purge. Quota entries are deleted only when they leave
        their window, so that quotas stay exact. The keys of the result are
        ``used`` (used ids and idempotency records), ``counters`` (buckets),
        ``quotas`` (entries) and ``events``. The Redis server deletes expired
        keys by itself, and those are not in the counts.
        Each step deletes in batches of at most a few thousand records, one
        transaction or one Redis script each, so other callers wait for one
        batch at most. Records that expire during a purge may be left for the
        next one.
        """

    def claim_setting(self, name: str, value: str) -> str:
        """Store ``value`` under ``name`` unless a value is there; return the stored one."""

    def add_counts(self, counts: list[tuple[str, str, int, float, int]]) -> None:
        """Add ``amount`` events at ``now`` to each ``(name, key, window, now, amount)``.

        One write for the whole batch; events of one counter that fall in one
        bucket are summed first. Raise ValueError before writing anything if
        any entry is invalid.
        """

    def record_events(self, events: list[tuple[dict, float]]) -> None:
        """Append several ``(event, now)`` audit events in one write.

        Raise ValueError before writing anything if any event is invalid.
        """

    def setting(self, name: str) -> str | None:
        """Return the value stored under ``name``, or None."""

    def observe(
        self,
        hits: list[tuple[str, str, int]],
        reads: list[tuple[str, str, int]],
        now: float,
    ) -> tuple[list[int], list[int]]:
        """Add one event to each ``(name, key, window)`` of ``hits``, then count.

        Return the counts of ``hits`` (with the new events) and of ``reads``,
        as :meth:`hit` and :meth:`count` would, in one round trip. Each hit is
        atomic on its own; the batch is not a transaction across counters.
        """

    def replace_setting(self, name: str, value: str) -> None:
        """Store ``value`` under ``name``, replacing any value."""

    def delete_setting(self, name: str) -> bool:
        """Delete the value stored under ``name``; return whether there was one."""

    def check(self) -> None:
        """Raise :class:`~challenge_service.errors.StoreUnavailable` if the store is down."""
