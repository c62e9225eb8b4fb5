"""The store interface that every back end implements.

The store records what must not happen twice (answered challenges, verified
pass tokens, idempotent verify answers) and the sites. Challenge content is
derived from signed envelopes, so it is never stored.
"""

from __future__ import annotations

import dataclasses
import enum
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


class StoreBase:
    """Base of the stores: cached site lookups and the keyless token redeem.

    Every challenge and every verify looks a site up, so each process keeps
    the sites it found for ``SITE_CACHE_TTL`` seconds. Only found sites are
    cached, so unknown keys sent by a client cannot fill the cache. A back end
    implements ``_find_site`` for the fields ``sitekey``, ``secret`` and
    ``previous-secret``, ``consume`` and ``_redeem_with_key``.
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


class Store(Protocol):
    """Storage used by the service; every method is safe across processes."""

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

    def purge_expired(self, now: float) -> int:
        """Delete used-id and idempotency records past their expiry; return the count."""

    def claim_setting(self, name: str, value: str) -> str:
        """Store ``value`` under ``name`` unless a value is there; return the stored one."""

    def replace_setting(self, name: str, value: str) -> None:
        """Store ``value`` under ``name``, replacing any value."""

    def check(self) -> None:
        """Raise :class:`~challenge_service.errors.StoreUnavailable` if the store is down."""
