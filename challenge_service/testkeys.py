"""Published test keys for integrators and accessibility testers.

Like the test keys of hosted CAPTCHA services, these site keys and secrets
are public and fixed, and they work from any hostname. They protect nothing,
because a portal verifies with its own secret, which rejects every token
issued for a test site. Operators turn them off with
``CHALLENGE_SERVICE_TEST_KEYS=false``.
"""

from __future__ import annotations

import dataclasses
import logging

from .policies import Policies
from .policy import SitePolicy
from .sites import hash_secret
from .storage import Site
from .storage import Store

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class TestSite:
    """A test site: its public key, its secret, and what it does."""

    name: str
    sitekey: str
    secret: str
    #: Policy of the site's challenges.
    policy: SitePolicy


#: Every challenge passes as an invisible proof of work.
ALWAYS_PASS = TestSite(
    "Test key: always passes",
    "site_test_always_pass_00000000000",
    "secret_test_always_pass_000000000000000000000000",
    SitePolicy(max_level=0, network_limit=0, burst_per_minute=0),
)

#: Every answer is rejected as wrong, to test the widget's error state.
ALWAYS_FAIL = TestSite(
    "Test key: always fails",
    "site_test_always_fail_00000000000",
    "secret_test_always_fail_000000000000000000000000",
    SitePolicy(max_level=0, network_limit=0, burst_per_minute=0),
)

#: Every challenge asks for the image, with its audio alternative, after a
#: proof of work, so the reading and listening paths can be tested.
IMAGE = TestSite(
    "Test key: always asks for the image",
    "site_test_image_00000000000000000",
    "secret_test_image_000000000000000000000000000000",
    SitePolicy(
        floor=3,
        max_level=3,
        max_pow_level=0,
        wait_per_level_ms=0,
        network_limit=0,
        burst_per_minute=0,
    ),
)

TEST_SITES = (ALWAYS_PASS, ALWAYS_FAIL, IMAGE)

TEST_SITEKEYS = frozenset(site.sitekey for site in TEST_SITES)

#: Secrets that answer every verify call the same way, whatever the token.
ALWAYS_PASS_SECRET = ALWAYS_PASS.secret
ALWAYS_FAIL_SECRET = ALWAYS_FAIL.secret


def is_test_site(site: Site) -> bool:
    """Return whether ``site`` is one of the published test sites."""
    return site.sitekey in TEST_SITEKEYS


def ensure_test_sites(store: Store, now: float) -> None:
    """Create the test sites and their policies unless they exist."""
    policies = Policies(store)

    for test_site in TEST_SITES:
        site = store.site_by_sitekey(test_site.sitekey)

        if site is None:
            try:
                site = store.add_site(
                    test_site.name,
                    test_site.sitekey,
                    hash_secret(test_site.secret),
                    ("localhost",),
                    now,
                )
            except ValueError:
                # Another process or instance created it at the same moment.
                site = store.site_by_sitekey(test_site.sitekey)

        if site is not None and policies.get(site) != test_site.policy:
            policies.set(site, test_site.policy)
