"""Keyed hashes of visitors and the signals the service counts about them.

Raw IP addresses and the portal's subject ids never reach the store or the
logs: each becomes an HMAC under a key that lives in the shared store, so all
instances agree on it. Network and subject hashes for the risk signals use a
key that changes every day, so they cannot be linked across days; the hash
that counts a subject's quota must stay stable over the quota's window, so it
uses the key without the day. IPv6 addresses are grouped by /64, the block a
single household or host usually gets.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import secrets

from .policy import Signals
from .storage import Store

#: Name of the shared setting that contains the hashing key.
HASH_KEY_SETTING = "visitor-hash-key"

#: Seconds of one day of the rotating hash key.
DAY = 86400

#: Window of the site's overall request rate, in seconds.
SITE_WINDOW = 60

#: Counter names in the store, by reason code.
COUNTERS = {
    "network-rate": "net",
    "subject-rate": "subject",
    "wrong-answers": "wrong",
    "fast-solve": "fast-solve",
    "fast-answer": "fast-answer",
    "replay": "replay",
}


def load_hash_key(store: Store) -> bytes:
    """Return the store's hashing key, creating it on first use."""
    return bytes.fromhex(store.claim_setting(HASH_KEY_SETTING, secrets.token_hex(32)))


def network_of(address: str) -> str:
    """Return the network an address counts for: itself, or its /64 for IPv6."""
    try:
        parsed = ipaddress.ip_address(address)
    except ValueError:
        return "unknown"

    if isinstance(parsed, ipaddress.IPv6Address):
        if parsed.ipv4_mapped is not None:
            return str(parsed.ipv4_mapped)

        return str(ipaddress.ip_network(f"{parsed}/64", strict=False))

    return str(parsed)


class Visitors:
    """Hash visitors with the shared key and count what they do.

    The key is read from the store on first use, so that an instance starts
    while its store is down and answers 503 until the store returns.
    """

    def __init__(self, store: Store, key: bytes | None = None) -> None:
        self.store = store
        self._key = key

    def _hash(self, label: str) -> str:
        if self._key is None:
            self._key = load_hash_key(self.store)

        return hmac.new(self._key, label.encode(), hashlib.sha256).hexdigest()[:32]

    def network(self, address: str, now: float) -> str:
        """Return the day's keyed hash of the network of ``address``."""
        return self._hash(f"net:{int(now // DAY)}:{network_of(address)}")

    def subject(self, site_id: int, subject: str, now: float) -> str:
        """Return the day's keyed hash of a portal's subject, for the signals."""
        return self._hash(f"subject:{int(now // DAY)}:{site_id}:{subject}")

    def quota_subject(self, site_id: int, subject: str) -> str:
        """Return the stable keyed hash of a portal's subject, for its quotas."""
        return self._hash(f"quota:{site_id}:{subject}")

    def observe(
        self,
        site_id: int,
        network: str,
        subject: str | None,
        window: int,
        now: float,
    ) -> Signals:
        """Count one challenge request and return the signals around it."""
        hits = [("net", network, window), ("site", str(site_id), SITE_WINDOW)]

        if subject is not None:
            hits.append(("subject", subject, window))

        reads = [
            (COUNTERS[code], network, window)
            for code in ("wrong-answers", "fast-solve", "fast-answer", "replay")
        ]
        hit_counts, read_counts = self.store.observe(hits, reads, now)
        wrong, fast_solve, fast_answer, replay = read_counts
        return Signals(
            network_rate=hit_counts[0],
            site_rate=hit_counts[1],
            subject_rate=hit_counts[2] if subject is not None else 0,
            wrong_answers=wrong,
            fast_solve=fast_solve,
            fast_answer=fast_answer,
            replay=replay,
        )

    def note(self, code: str, network: str, window: int, now: float) -> None:
        """Count one event of signal ``code`` for ``network``."""
        self.store.hit(COUNTERS[code], network, window, now)
