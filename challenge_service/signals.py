"""Keyed hashes of visitors and the signals the service counts about them.

Raw IP addresses and the portal's subject ids never reach the store or the
logs: each becomes an HMAC under a key that lives in the shared store, so all
instances agree on it. Network and subject hashes for the risk signals use a
random key of the day, which the purge deletes once the day is over. From
then on, nobody can link that day's hashes to an address, a subject or the
next day's hashes, even with the store in hand. The hash that counts
a subject's quota must stay stable over the quota's window, so it uses a key
that does not change. IPv6 addresses are grouped by /64, the block a single
household or host usually gets.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import math
import secrets
import threading
import time

from .background import PeriodicTask
from .errors import StoreUnavailable
from .policy import Signals
from .storage import Store
from .storage.base import bucket_index

logger = logging.getLogger(__name__)

#: Name of the shared setting that contains the hashing key for quotas.
HASH_KEY_SETTING = "visitor-hash-key"

#: Name prefix of the shared settings that contain each day's hashing key,
#: followed by the day's number since the Unix epoch.
DAY_KEY_SETTING = "visitor-hash-key:"

#: Days before yesterday whose keys each purge deletes. Older keys are left
#: only if no purge ran for this long.
DAY_KEY_LOOKBACK = 60

#: Seconds of one day of the rotating hash key.
DAY = 86400

#: Window of the site's overall request rate, in seconds.
SITE_WINDOW = 60

#: Seconds a process reuses the site's rate it read, when counts are batched.
SITE_RATE_CACHE_SECONDS = 1.0

#: Counter names in the store, by reason code.
COUNTERS = {
    "network-rate": "net",
    "subject-rate": "subject",
    "wrong-answers": "wrong",
    "fast-solve": "fast-solve",
    "fast-answer": "fast-answer",
    "replay": "replay",
}


#: Counters read for a network with each challenge request: its rate, then
#: the signals raised by its wrong, fast and replayed submissions.
_NETWORK_NAMES = tuple(
    COUNTERS[code]
    for code in ("network-rate", "wrong-answers", "fast-solve", "fast-answer", "replay")
)


def _signals(hit_counts: list[int], read_counts: list[int], subject: bool) -> Signals:
    """Return the signals of counts in the order of ``observe``'s counters."""
    wrong, fast_solve, fast_answer, replay = read_counts
    return Signals(
        network_rate=hit_counts[0],
        site_rate=hit_counts[1],
        subject_rate=hit_counts[2] if subject else 0,
        wrong_answers=wrong,
        fast_solve=fast_solve,
        fast_answer=fast_answer,
        replay=replay,
    )


def _digest(key: bytes, label: str) -> str:
    return hmac.new(key, label.encode(), hashlib.sha256).hexdigest()[:32]


def load_hash_key(store: Store) -> bytes:
    """Return the store's hashing key, creating it on first use."""
    return bytes.fromhex(store.claim_setting(HASH_KEY_SETTING, secrets.token_hex(32)))


def forget_day_keys(store: Store, now: float) -> int:
    """Delete the hashing keys of the days before yesterday; return how many."""
    today = int(now // DAY)
    # Yesterday's key stays, for instances whose clocks run a little late.
    return sum(
        store.delete_setting(f"{DAY_KEY_SETTING}{day}")
        for day in range(today - 1 - DAY_KEY_LOOKBACK, today - 1)
    )


def network_of(address: str) -> str:
    """Return the network an address counts for: itself, or its /64 for IPv6.

    A port after the address, as some proxies write it (``198.51.100.7:443``
    or ``[2001:db8::1]:443``), is ignored. Anything else that is not an
    address counts as the network ``unknown``, which every such request
    shares, and a warning is logged at most once a minute.
    """
    parsed = _parse_address(address)

    if parsed is None:
        _warn_unknown_address()
        return "unknown"

    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)

        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))

    return str(parsed)


def _parse_address(address: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """Return ``address`` as an IP address, without any port after it, or None."""
    host = address

    if address.startswith("[") and "]" in address:
        host = address[1 : address.index("]")]
    elif address.count(":") == 1:
        host = address.partition(":")[0]

    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


#: When the last warning about an address that is not one was logged.
_unknown_warned_at = -math.inf


def _warn_unknown_address() -> None:
    global _unknown_warned_at

    if time.monotonic() - _unknown_warned_at < 60:
        return

    _unknown_warned_at = time.monotonic()
    # The value is not logged: it may be an address in a form not parsed.
    logger.warning(
        "a client address is not an IP address, so its requests count for one"
        " shared network; check CHALLENGE_SERVICE_PROXY_HOPS and what the"
        " proxy writes into X-Forwarded-For"
    )


class Visitors:
    """Hash visitors with the shared key and count what they do.

    The key is read from the store on first use, so that an instance starts
    while its store is down and answers 503 until the store returns.

    With ``flush_ms`` above 0, the challenge requests of this process are
    counted in memory and added to the store in one write every ``flush_ms``
    milliseconds, so that a challenge request reads the store but does not
    write to it. Counts in the store then lag by at most that long, and each
    process adds its own pending requests to what it reads.
    """

    def __init__(
        self, store: Store, key: bytes | None = None, flush_ms: int = 0
    ) -> None:
        self.store = store
        self._key = key
        self.flush_ms = flush_ms
        #: Events not yet written, by counter and bucket: the time of the
        #: first, which places the sum in its bucket, and their number.
        self._pending: dict[tuple[str, str, int, int], list] = {}
        self._pending_counts: dict[tuple[str, str, int], int] = {}
        #: Counts of the write in progress and of the last write that landed,
        #: and the number of writes that landed.
        self._writing: dict[tuple[str, str, int], int] = {}
        self._written: dict[tuple[str, str, int], int] = {}
        self._generation = 0
        self._lock = threading.Lock()
        #: Held for a whole write, as in the audit log: a flush at exit
        #: waits for the thread's write instead of cutting it off.
        self._write_lock = threading.Lock()
        self._thread = PeriodicTask(
            "counters", self.flush, flush_ms / 1000, on_start=self._drop_pending
        )
        self._site_rates: dict[tuple[str, str, int], tuple[int, float]] = {}
        #: Keys of the days this process hashed for, by day number.
        self._day_keys: dict[int, bytes] = {}

    def _day_key(self, now: float) -> bytes:
        """Return the key of the day of ``now``, claiming it in the store once."""
        day = int(now // DAY)
        key = self._day_keys.get(day)

        if key is None:
            claimed = self.store.claim_setting(
                f"{DAY_KEY_SETTING}{day}", secrets.token_hex(32)
            )
            key = bytes.fromhex(claimed)
            # Only today's and yesterday's keys are kept. The dict is replaced,
            # not changed, so that concurrent readers never see it change.
            kept = {
                known: value
                for known, value in self._day_keys.items()
                if known >= day - 1
            }
            kept[day] = key
            self._day_keys = kept

        return key

    def network(self, address: str, now: float) -> str:
        """Return the keyed hash of the network of ``address``, under the day's key."""
        return _digest(self._day_key(now), f"net:{network_of(address)}")

    def subject(self, site_id: int, subject: str, now: float) -> str:
        """Return the keyed hash of a portal's subject under the day's key, for signals."""
        return _digest(self._day_key(now), f"subject:{site_id}:{subject}")

    def quota_subject(self, site_id: int, subject: str) -> str:
        """Return the stable keyed hash of a portal's subject, for its quotas."""
        if self._key is None:
            self._key = load_hash_key(self.store)

        return _digest(self._key, f"quota:{site_id}:{subject}")

    def observe(
        self,
        site_id: int,
        network: str,
        subject: str | None,
        window: int,
        now: float,
        exact: tuple[int, int] = (0, 0),
    ) -> Signals:
        """Count one challenge request and return the signals around it.

        With counts batched, a network whose count is in the range ``exact``
        (the low end included) has each request counted in the store at once,
        so that every process counts it.
        """
        if self.flush_ms:
            return self._observe_batched(site_id, network, subject, window, now, exact)

        hits = [("net", network, window), ("site", str(site_id), SITE_WINDOW)]

        if subject is not None:
            hits.append(("subject", subject, window))

        reads = [(name, network, window) for name in _NETWORK_NAMES[1:]]
        hit_counts, read_counts = self.store.observe(hits, reads, now)
        return _signals(hit_counts, read_counts, subject is not None)

    def _observe_batched(
        self,
        site_id: int,
        network: str,
        subject: str | None,
        window: int,
        now: float,
        exact: tuple[int, int],
    ) -> Signals:
        self._thread.ensure_started()
        generation = self._generation
        # A challenge request reads the network's counters in one query, and
        # its own events wait in the pending counts, unless ``exact`` applies.
        network_counts = self.store.count_names(_NETWORK_NAMES, network, window, now)
        site_counter = ("site", str(site_id), SITE_WINDOW)
        site_rate, site_cached = self._stored_site_rate(site_counter, now)
        network_counter = ("net", network, window)
        hits = [(network_counter, network_counts[0], False)]
        hits.append((site_counter, site_rate, site_cached))

        if subject is not None:
            stored = self.store.count("subject", subject, window, now)
            hits.append((("subject", subject, window), stored, False))

        counts = {}

        with self._lock:
            # A write that landed during the read may be missing from it, so
            # its counts are added: a rare overcount rather than an undercount.
            landed = self._written if self._generation != generation else {}

            for counter, stored, cached in hits:
                if not cached:
                    stored += self._writing.get(counter, 0) + landed.get(counter, 0)

                counts[counter] = stored + self._pending_counts.get(counter, 0)

            at_once = exact[0] <= counts[network_counter] < exact[1]

            for counter, _, _ in hits:
                if at_once and counter == network_counter:
                    continue

                counts[counter] += 1
                self._add_pending(counter, now)

        if at_once:
            # Other processes' pending events stay unseen for one flush interval
            # at most, because their requests of this network go to the store too.
            generation = self._generation
            stored = self.store.hit(*network_counter, now)

            with self._lock:
                landed = self._written if self._generation != generation else {}
                counts[network_counter] = (
                    stored
                    + self._pending_counts.get(network_counter, 0)
                    + self._writing.get(network_counter, 0)
                    + landed.get(network_counter, 0)
                )

        hit_counts = [counts[counter] for counter, _, _ in hits]
        return _signals(hit_counts, network_counts[1:], subject is not None)

    def _add_pending(self, counter: tuple[str, str, int], now: float) -> None:
        """Add one event of ``counter`` at ``now`` to the pending counts."""
        self._pending_counts[counter] = self._pending_counts.get(counter, 0) + 1
        # Events of one counter and bucket are written as one sum.
        bucket = (*counter, bucket_index(counter[2], now))
        entry = self._pending.get(bucket)

        if entry is None:
            self._pending[bucket] = [now, 1]
        else:
            entry[1] += 1

    def _stored_site_rate(
        self, counter: tuple[str, str, int], now: float
    ) -> tuple[int, bool]:
        """Return the site's stored rate, and whether it came from the cache."""
        # The site's rate only sets a floor for bursts of hundreds a minute,
        # so a value read in the last second serves. That spares one query.
        cached = self._site_rates.get(counter)

        if cached is not None and cached[1] > time.monotonic():
            return cached[0], True

        count = self.store.count(*counter, now)
        self._site_rates[counter] = (count, time.monotonic() + SITE_RATE_CACHE_SECONDS)
        return count, False

    def flush(self) -> int:
        """Add the pending counts to the store; return how many events were added."""
        with self._write_lock:
            return self._write_pending()

    def _write_pending(self) -> int:
        with self._lock:
            pending, self._pending = self._pending, {}
            flushed, self._pending_counts = self._pending_counts, {}
            # Until the write lands, reads count these events from here.
            self._writing = flushed

            # A cached site rate must keep counting what leaves the pending
            # counts for the store, until it is read again.
            for counter, (count, expires) in list(self._site_rates.items()):
                added = flushed.get(counter, 0)

                if added:
                    self._site_rates[counter] = (count + added, expires)

        counts = [
            (name, key, window, now, amount)
            for (name, key, window, _), (now, amount) in pending.items()
        ]
        events = sum(entry[4] for entry in counts)

        if counts:
            try:
                self.store.add_counts(counts)
            except StoreUnavailable as error:
                # Counts are signals, not records: losing a batch while the
                # store is down only makes the policy milder for a moment.
                with self._lock:
                    self._writing = {}

                logger.warning("dropped %d counted requests: %s", events, error)
                return 0

        with self._lock:
            self._written, self._writing = self._writing, {}
            self._generation += 1

        return events

    def _drop_pending(self) -> None:
        # A forked worker must not write the master's pending counts again.
        self._pending = {}
        self._pending_counts = {}
        self._writing = {}
        self._written = {}

    def note(self, code: str, network: str, window: int, now: float) -> None:
        """Count one event of signal ``code`` for ``network``."""
        self.store.hit(COUNTERS[code], network, window, now)
