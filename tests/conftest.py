"""Fixtures shared by the test suites: an app on a real SQLite file and a clock."""

from __future__ import annotations

import pytest

from challenge_service import challenges
from challenge_service import create_app
from challenge_service.challenges.proof_of_work import solve
from challenge_service.sites import create_site

SIGNING_KEY = "test-signing-key-0123456789abcdefghijkl"
ORIGIN = "http://localhost:8081"
START = 1_800_000_000.0


class Clock:
    """Clock that tests move by hand."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def app(tmp_path, clock):
    return create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path),
            "SIGNING_KEYS": [SIGNING_KEY],
            "CLOCK": clock,
            # Write audit events and counts at once, so tests can read them back.
            "AUDIT_FLUSH_MS": 0,
            "COUNTER_FLUSH_MS": 0,
        }
    )


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def store(app):
    return app.extensions["challenge_service"].store


@pytest.fixture
def site(store):
    """Return a site for localhost and portal.example.fr with its secret."""
    return create_site(store, "Pool", ["localhost", "portal.example.fr"], START)


@pytest.fixture
def other_site(store):
    return create_site(store, "Rink", ["rink.example.fr"], START)


def solve_challenge(challenge: dict) -> list[int]:
    """Return nonces that answer a proof-of-work challenge."""
    return [
        solve(challenge["salt"], index, challenge["bits"])
        for index in range(challenge["puzzles"])
    ]


def epoch_wording(app, kind_name: str, now: float) -> int:
    """Return the wording index that the app selects for ``kind_name`` at ``now``."""
    kind = challenges.get(kind_name)
    rotation = app.extensions["challenge_service"].rotation
    return rotation.select(f"wording:{kind_name}", kind.wordings, now).variant


class Flow:
    """Steps of the widget's and the portal's calls, through the test client."""

    def __init__(self, client, site, secret, clock=None) -> None:
        self.client = client
        self.site = site
        self.secret = secret
        self.clock = clock

    def issue(self, action: str = "book", origin: str = ORIGIN, **extra):
        body = {"sitekey": self.site.sitekey, "action": action, **extra}
        return self.client.post(
            "/api/v1/challenges", json=body, headers={"Origin": origin}
        )

    def answer(
        self,
        issued: dict,
        nonces=None,
        origin: str = ORIGIN,
        solve_seconds: float = 0.4,
        **extra,
    ):
        if nonces is None:
            nonces = solve_challenge(issued["challenge"])

        # A browser takes a while to solve; an answer at the instant of issue
        # counts as a proof of work solved faster than a browser can.
        if self.clock is not None:
            self.clock.advance(solve_seconds)

        body = {"envelope": issued["envelope"], "answer": {"nonces": nonces}, **extra}
        return self.client.post(
            f"/api/v1/challenges/{issued['challenge_id']}/answer",
            json=body,
            headers={"Origin": origin},
        )

    def switch_to_wait(self, challenge: dict):
        """Replace a step with a wait, as the widget's "wait instead" does."""
        return self.client.post(
            f"/api/v1/challenges/{challenge['challenge_id']}/replace",
            json={
                "envelope": challenge["envelope"],
                "alternative": {"kind": "timing", "mode": "wait"},
            },
            headers={"Origin": ORIGIN},
        )

    def pass_token(self, action: str = "book") -> str:
        issued = self.issue(action).get_json()
        return self.answer(issued).get_json()["pass_token"]

    def verify(self, token: str, secret: str | None = None, **extra):
        fields = {"secret": secret or self.secret, "response": token, **extra}
        return self.client.post("/api/v1/siteverify", data=fields).get_json()


@pytest.fixture
def flow(client, site, clock) -> Flow:
    return Flow(client, *site, clock=clock)
