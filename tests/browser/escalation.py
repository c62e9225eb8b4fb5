"""Services whose site has a chosen risk policy, for the widget's step tests.

The site and its policy are written into the data folder's store before the
service starts, and ``serve --demo`` then reuses that site as its demo site,
so its demo portal protects its form with the same policy. The service signs
with a fixed key, which lets a test derive a challenge's secret and compute
the answer that its image or audio clip shows, as a person would read it.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from challenge_service import DATABASE_NAME
from challenge_service.media import audio
from challenge_service.media import image
from challenge_service.policies import Policies
from challenge_service.policy import SIGNAL_HALVES
from challenge_service.policy import SitePolicy
from challenge_service.signing import Signer
from challenge_service.sites import create_site
from challenge_service.storage import open_store
from tests.servers import free_port
from tests.servers import ServiceProcess

from .widget_host import Service

#: Signing key of the step tests' services; long and varied enough for the
#: service's key check.
SIGNING_KEY = "browser-step-tests-signing-key-7Hq2xVw9Lp4Zr"

#: Seconds to wait for the demo portal after the service answers.
PORTAL_START_TIMEOUT = 20

#: Signal halves so large, the largest a policy accepts, that no count the
#: tests make raises the level: a hundred events make a risk below 0.0001.
#: Each test then gets the level its policy or its risk ticket sets.
QUIET_HALVES = {code: 1_000_000.0 for code in SIGNAL_HALVES}


def pinned_policy(level: int, **fields: Any) -> SitePolicy:
    """Return a policy that gives every visitor ``level`` and nothing else.

    The proof of work stays at level 0, the cheapest, and no wait is added
    past it unless ``fields`` sets ``wait_per_level_ms``. The network limit
    and the burst floor are off, because every test request comes from
    127.0.0.1.
    """
    values: dict[str, Any] = {
        "floor": level,
        "max_level": level,
        "max_pow_level": 0,
        "wait_per_level_ms": 0,
        "network_limit": 0,
        "burst_per_minute": 0,
        "halves": QUIET_HALVES,
    }
    values.update(fields)
    return SitePolicy(**values)


@dataclasses.dataclass
class PolicyService(Service):
    """A running service, its site with a policy, and the demo portal in front."""

    demo_url: str
    data_dir: Path

    def risk_ticket(self, risk: float, subject: str = "household-7") -> str:
        """Return a risk ticket for the ``book`` action, as a portal's back end gets it."""
        response = requests.post(
            self.url + "/api/v1/risk-tickets",
            json={"secret": self.secret, "subject": subject, "risk": risk, "action": "book"},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["risk_ticket"]


def _create_site(data_dir: Path, policy: SitePolicy) -> tuple[str, str]:
    store = open_store("", data_dir / DATABASE_NAME)
    site, secret = create_site(store, "Piscine Aquaforme", ["localhost", "127.0.0.1"], time.time())
    Policies(store).set(site, policy)
    # serve --demo reuses the site named in this file instead of creating one.
    (data_dir / "demo-site.json").write_text(
        json.dumps({"sitekey": site.sitekey, "secret": secret})
    )
    return site.sitekey, secret


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + PORTAL_START_TIMEOUT

    while True:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass

        if time.monotonic() > deadline:
            raise RuntimeError(f"{url} did not answer within {PORTAL_START_TIMEOUT} s")

        time.sleep(0.1)


@contextmanager
def demo_service(
    data_dir: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[ServiceProcess, str]]:
    """Run ``serve --demo`` on ``data_dir``; yield the process and the demo's URL."""
    demo_port = free_port()
    process = ServiceProcess(
        data_dir,
        {"CHALLENGE_SERVICE_SIGNING_KEYS": SIGNING_KEY, **(env or {})},
        "--demo",
        "--demo-port",
        str(demo_port),
        "--workers",
        "2",
    )

    try:
        demo_url = f"http://localhost:{demo_port}"
        _wait_for(demo_url + "/demo/")
        yield process, demo_url
    finally:
        process.stop()


@contextmanager
def policy_service(data_dir: Path, policy: SitePolicy) -> Iterator[PolicyService]:
    """Run ``serve --demo`` for a new site of ``localhost`` with ``policy``."""
    data_dir.mkdir(parents=True, exist_ok=True)
    sitekey, secret = _create_site(data_dir, policy)

    with demo_service(data_dir) as (process, demo_url):
        yield PolicyService(process.url, sitekey, secret, demo_url, data_dir)


# Answers of image challenges, computed the way the service computes them.


def envelope_payload(envelope: str) -> dict[str, Any]:
    """Return the signed payload of an envelope, which is not encrypted."""
    data = envelope.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


def _secret_and_style(issued: dict[str, Any]) -> tuple[bytes, int]:
    payload = envelope_payload(issued["envelope"])
    _, secret = Signer([SIGNING_KEY]).derive(
        f"challenge:{issued['challenge_id']}", payload["k"]
    )
    return secret, payload["style"]


def image_answer(issued: dict[str, Any]) -> str:
    """Return what a person reads or counts in the image of an image challenge."""
    secret, style = _secret_and_style(issued)
    return image.draw(issued["challenge"]["family"], secret, style).answer


def audio_answer(issued: dict[str, Any], lang: str) -> str:
    """Return the digits that the audio clip of an image challenge speaks."""
    secret, style = _secret_and_style(issued)
    return audio.clip(secret, lang, style).answer
