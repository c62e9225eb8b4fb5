"""Per-site risk policies, kept in the shared store as JSON settings."""

from __future__ import annotations

import json
import logging
import time

from .policy import SitePolicy
from .storage import Site
from .storage import Store

logger = logging.getLogger(__name__)

#: Seconds a process reuses a policy it read, like the site cache.
POLICY_CACHE_TTL = 5.0

DEFAULT = SitePolicy()


def setting_name(sitekey: str) -> str:
    """Return the name of the store setting that contains a site's policy."""
    return f"policy:{sitekey}"


class Policies:
    """Read and change site policies, with a short per-process cache."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[str, tuple[SitePolicy, float]] = {}

    def get(self, site: Site) -> SitePolicy:
        """Return the policy of ``site``, or the default policy."""
        cached = self._cache.get(site.sitekey)

        if cached is not None and cached[1] > time.monotonic():
            return cached[0]

        policy = self._load(site.sitekey)
        self._cache[site.sitekey] = (policy, time.monotonic() + POLICY_CACHE_TTL)
        return policy

    def _load(self, sitekey: str) -> SitePolicy:
        raw = self.store.setting(setting_name(sitekey))

        if raw is None:
            return DEFAULT

        try:
            return SitePolicy.from_dict(json.loads(raw))
        except (ValueError, TypeError) as error:
            # A policy written by hand that no longer validates must not stop
            # the site: the default applies, and the operator is told.
            logger.error("invalid policy of a site, using the default: %s", error)
            return DEFAULT

    def set(self, site: Site, policy: SitePolicy) -> None:
        """Store ``policy`` for ``site``; other processes see it within seconds."""
        policy.validate()
        self.store.replace_setting(
            setting_name(site.sitekey), json.dumps(policy.to_dict(), sort_keys=True)
        )
        self._cache.pop(site.sitekey, None)
