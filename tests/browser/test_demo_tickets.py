"""The demo portal's risk ticket, household cookie and booking quota, over HTTP.

These tests play the browser's part with ``requests``: a session keeps the
household cookie, reads the ticket that the page carries, and makes the
widget's calls to the service with it, solving the proof of work in Python.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import logging
import re
import socket
import time
from collections.abc import Callable
from collections.abc import Iterator
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

import pytest
import requests

from challenge_service import create_app
from challenge_service import DATABASE_NAME
from challenge_service.challenges.proof_of_work import solve
from challenge_service.cli import _ensure_demo_site
from challenge_service.cli import DEMO_SITE_FILE
from challenge_service.demo import create_demo_app
from challenge_service.demo import messages
from challenge_service.demo.booking import check_verdict
from challenge_service.demo.booking import HOUSEHOLD_QUOTA
from challenge_service.policies import Policies
from challenge_service.policy import SitePolicy
from challenge_service.sites import create_site
from challenge_service.storage import open_store
from tests.servers import ServiceProcess

from .escalation import demo_service
from .escalation import SIGNING_KEY

NO_TICKET_FR = "La vérification anti-robot n’a pas été faite depuis cette page."
QUOTA_FR = "Votre foyer a déjà fait toutes les réservations en ligne permises"
QUOTA_EN = "Your household has made all the online bookings allowed"
CONFIRMED_FR = "Réservation confirmée"

TICKET_ATTRIBUTE = re.compile(r'data-risk-ticket="([^"]+)"')

#: The household cookie's value: 16 random bytes in URL-safe base64.
HOUSEHOLD_ID = re.compile(r"[A-Za-z0-9_-]{22}")

#: The demo site's quota, as the policy stores it.
DEMO_QUOTAS = {"book": (2, 7 * 86400)}


@dataclasses.dataclass
class Portal:
    """Where a demo portal and its service listen, and the demo site's keys."""

    service_url: str
    demo_url: str
    sitekey: str
    secret: str


class Household:
    """A household's browser: its cookie jar and the widget's calls."""

    def __init__(self, portal: Portal) -> None:
        self.portal = portal
        self.session = requests.Session()

    def close(self) -> None:
        self.session.close()

    def cookie(self) -> str | None:
        """Return the household id that the portal set, if any."""
        return self.session.cookies.get("household")

    def open_form(self, lang: str = "fr") -> requests.Response:
        """Load the booking form, as the browser does on each visit."""
        params = {"lang": "en"} if lang == "en" else {}
        response = self.session.get(
            self.portal.demo_url + "/demo/", params=params, timeout=15
        )
        response.raise_for_status()
        return response

    def pass_token(self, ticket: str | None = None, action: str = "book") -> str:
        """Pass the widget's check and return its token, sending ``ticket`` if any."""
        body = {"sitekey": self.portal.sitekey, "action": action, "lang": "fr"}

        if ticket is not None:
            body["risk_ticket"] = ticket

        issued = self.call_service("/api/v1/challenges", body)
        issued.raise_for_status()
        issued = issued.json()
        challenge = issued["challenge"]
        nonces = [
            solve(challenge["salt"], index, challenge["bits"])
            for index in range(challenge["puzzles"])
        ]
        answered = self.call_service(
            f"/api/v1/challenges/{issued['challenge_id']}/answer",
            {"envelope": issued["envelope"], "answer": {"nonces": nonces}},
        )
        answered.raise_for_status()
        return answered.json()["pass_token"]

    def call_service(self, path: str, body: dict[str, Any]) -> requests.Response:
        """POST JSON to the service with the demo page's Origin, as the widget does."""
        return requests.post(
            self.portal.service_url + path,
            json=body,
            headers={"Origin": self.portal.demo_url},
            timeout=15,
        )

    def submit(
        self, token: str, slot: str, name: str, lang: str = "fr"
    ) -> requests.Response:
        """Send the booking form with ``token``."""
        return self.session.post(
            self.portal.demo_url + "/demo/book",
            params={"lang": "en"} if lang == "en" else {},
            data={"name": name, "slot": slot, "challenge-response": token},
            timeout=15,
        )

    def book(self, slot: str, name: str, lang: str = "fr") -> requests.Response:
        """Open the form, pass the check with the page's ticket, and book."""
        token = self.pass_token(form_ticket(self.open_form(lang).text))
        return self.submit(token, slot, name, lang)


def form_ticket(html: str) -> str:
    """Return the risk ticket in the widget element of a form page."""
    found = TICKET_ATTRIBUTE.search(html)
    assert found is not None, "the form's widget has no data-risk-ticket"
    return found.group(1)


def verify(portal: Portal, token: str) -> dict[str, Any]:
    """Check ``token`` with siteverify, as the portal's back end does."""
    response = requests.post(
        portal.service_url + "/api/v1/siteverify",
        data={"secret": portal.secret, "response": token},
        timeout=15,
    )
    return response.json()


@pytest.fixture
def households() -> Iterator[Callable[[Portal], Household]]:
    """Return a function that opens a new household's browser."""
    opened: list[Household] = []

    def open_household(portal: Portal) -> Household:
        household = Household(portal)
        opened.append(household)
        return household

    yield open_household

    for household in opened:
        household.close()


def portal_of(demo_server: Any) -> Portal:
    """Return the browser suite's demo, whose pinned policy has no quota."""
    return Portal(
        demo_server.service_url,
        demo_server.demo_url,
        demo_server.sitekey,
        demo_server.secret,
    )


@pytest.fixture
def shared_portal(demo_server) -> Portal:
    return portal_of(demo_server)


@dataclasses.dataclass
class QuotaPortal(Portal):
    """A demo whose site has the policy that ``serve --demo`` gives it."""

    process: ServiceProcess


@pytest.fixture(scope="module")
def quota_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[QuotaPortal]:
    """Run ``serve --demo`` on a new data folder, with the demo site it creates."""
    data_dir = tmp_path_factory.mktemp("quota-demo")

    with demo_service(data_dir) as (process, demo_url):
        site = json.loads((data_dir / DEMO_SITE_FILE).read_text())
        yield QuotaPortal(
            process.url, demo_url, site["sitekey"], site["secret"], process
        )


# The page's risk ticket.


def test_form_ticket_accepted_by_service(shared_portal, households) -> None:
    household = households(shared_portal)
    ticket = form_ticket(household.open_form().text)
    token = household.pass_token(ticket)
    result = verify(shared_portal, token)

    assert result["success"] is True
    assert result["risk_ticket"] is True


def test_service_rejects_altered_ticket(shared_portal, households) -> None:
    # Shows that the service checks what the page carries, so that the test
    # above could fail.
    household = households(shared_portal)
    ticket = form_ticket(household.open_form().text)
    altered = household.call_service(
        "/api/v1/challenges",
        {
            "sitekey": shared_portal.sitekey,
            "action": "book",
            "risk_ticket": ticket[:-4] + ("AAAA" if ticket[-4:] != "AAAA" else "BBBB"),
        },
    )

    assert altered.status_code == 400
    assert altered.json()["error"] == "invalid-risk-ticket"


def test_booking_without_ticket_rejected(shared_portal, households) -> None:
    household = households(shared_portal)
    household.open_form()
    response = household.submit(household.pass_token(), "lundi-1800", "Lina Haddad")

    assert response.status_code == 400
    assert NO_TICKET_FR in response.text
    assert CONFIRMED_FR not in response.text
    _assert_announced_and_linked(response.text)
    # The re-rendered form carries a new ticket for the next attempt.
    assert form_ticket(response.text)


def test_booking_without_ticket_rejected_in_english(shared_portal, households) -> None:
    household = households(shared_portal)
    response = household.submit(
        household.pass_token(), "lundi-1800", "Amy Smith", lang="en"
    )

    assert response.status_code == 400
    assert "The human check was not made from this page." in response.text


def _assert_announced_and_linked(html: str) -> None:
    """Check that the error summary is an alert whose entry links to the widget."""
    summary = html[html.index('<div class="error-summary"') :]

    assert summary.startswith('<div class="error-summary" role="alert"')
    assert '<a href="#verification">' in summary
    assert 'id="verification-error"' in html
    assert 'id="verification"' in html


# The household cookie.


def test_first_visit_sets_household_cookie(shared_portal, households) -> None:
    response = households(shared_portal).open_form()
    cookie = SimpleCookie(response.headers["Set-Cookie"])["household"]

    assert HOUSEHOLD_ID.fullmatch(cookie.value)
    assert cookie["httponly"] is True
    assert cookie["samesite"] == "Lax"
    assert cookie["path"] == "/demo"
    assert cookie["max-age"] == str(30 * 86400)
    assert not cookie["secure"]


def test_household_kept_across_visits(shared_portal, households) -> None:
    household = households(shared_portal)
    household.open_form()
    first = household.cookie()
    again = household.open_form()

    assert first is not None
    assert "Set-Cookie" not in again.headers
    assert household.cookie() == first


def test_households_get_different_ids(shared_portal) -> None:
    url = shared_portal.demo_url + "/demo/"
    ids = set()

    for _ in range(2):
        response = requests.get(url, timeout=15)
        ids.add(SimpleCookie(response.headers["Set-Cookie"])["household"].value)

    assert len(ids) == 2


def test_forged_household_id_replaced(shared_portal) -> None:
    response = requests.get(
        shared_portal.demo_url + "/demo/", cookies={"household": "admin"}, timeout=15
    )
    cookie = SimpleCookie(response.headers["Set-Cookie"])["household"]

    assert cookie.value != "admin"
    assert HOUSEHOLD_ID.fullmatch(cookie.value)


def test_logs_hold_no_household_id(demo_server, shared_portal, households) -> None:
    household = households(shared_portal)

    assert household.book("mercredi-1215", "Yanis Roux").status_code == 200
    assert household.cookie() not in demo_server.log()


@pytest.fixture
def portal_without_service(tmp_path) -> Iterator[Any]:
    """Build a demo portal app whose service refuses every connection."""
    site_file = tmp_path / "site.json"
    site_file.write_text(json.dumps({"sitekey": "site_a", "secret": "secret_b"}))

    # A bound socket that does not listen keeps the port, so every connection
    # to it is refused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        yield create_demo_app(f"http://127.0.0.1:{closed.getsockname()[1]}", site_file)


def test_cookie_secure_over_https(portal_without_service) -> None:
    client = portal_without_service.test_client()
    response = client.get("/demo/", base_url="https://localhost")
    cookie = SimpleCookie(response.headers["Set-Cookie"])["household"]

    assert cookie["secure"] is True


def test_page_renders_without_ticket_service(portal_without_service, caplog) -> None:
    with caplog.at_level(logging.INFO):
        response = portal_without_service.test_client().get("/demo/")

    html = response.get_data(as_text=True)
    household = SimpleCookie(response.headers["Set-Cookie"])["household"].value
    failures = [r for r in caplog.records if "risk ticket" in r.getMessage()]

    assert response.status_code == 200
    assert 'id="verification"' in html
    assert "data-risk-ticket" not in html
    assert len(failures) == 1
    assert "secret_b" not in caplog.text
    assert household not in caplog.text


# The quota of bookings per household.


def test_third_booking_of_household_rejected(quota_portal, households) -> None:
    first_household = households(quota_portal)
    before = time.time()

    for name in ("Chloé Garnier", "Paul Garnier"):
        booked = first_household.book("lundi-1800", name)

        assert booked.status_code == 200, booked.text
        assert CONFIRMED_FR in booked.text

    after = time.time()
    third = first_household.book("lundi-1800", "Emma Garnier")
    window = HOUSEHOLD_QUOTA[1]

    assert third.status_code == 429
    assert QUOTA_FR in third.text
    assert _quota_moment(third.text, "fr") in {
        messages.moment("fr", _utc(before + window)),
        messages.moment("fr", _utc(after + window)),
    }
    assert 'value="Emma Garnier"' in third.text
    _assert_announced_and_linked(third.text)

    english = first_household.book("lundi-1800", "Emma Garnier", lang="en")

    assert english.status_code == 429
    assert QUOTA_EN in english.text
    assert _quota_moment(english.text, "en") in {
        messages.moment("en", _utc(before + window)),
        messages.moment("en", _utc(after + window)),
    }

    other = households(quota_portal).book("lundi-1800", "Nadia Benali")

    assert other.status_code == 200, other.text
    assert CONFIRMED_FR in other.text
    assert first_household.cookie() not in quota_portal.process.output()


def _quota_moment(html: str, lang: str) -> str:
    """Return the time that the quota message gives, as the page shows it."""
    lead = "à partir du " if lang == "fr" else "online again from "
    start = html.index(lead) + len(lead)
    return html[start : html.index(")", start) + 1]


def _utc(timestamp: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)


def test_quota_site_rejects_challenge_without_ticket(quota_portal, households) -> None:
    household = households(quota_portal)

    with pytest.raises(requests.HTTPError) as caught:
        household.pass_token()

    assert caught.value.response.json()["error"] == "invalid-risk-ticket"


def test_quota_without_time_has_undated_message() -> None:
    rejection = check_verdict(
        {"success": False, "error-codes": ["quota-exceeded"], "action": "book"},
        "localhost",
    )

    assert rejection is not None
    assert rejection.reason == "quota-exceeded-undated"
    assert rejection.field == "verification"
    assert rejection.frees_at is None


@pytest.mark.parametrize(
    ("instant", "lang", "expected"),
    [
        ("2027-01-16T08:00:03Z", "fr", "samedi 16 janvier à 9 h 01 (heure de Paris)"),
        ("2027-01-16T08:00:00Z", "en", "Saturday 16 January at 9:00 am (Paris time)"),
        ("2027-04-01T10:30:00Z", "fr", "jeudi 1er avril à 12 h 30 (heure de Paris)"),
        ("2027-07-04T22:59:30Z", "en", "Monday 5 July at 1:00 am (Paris time)"),
    ],
)
def test_quota_time_in_pool_time(instant, lang, expected) -> None:
    when = datetime.datetime.fromisoformat(instant)

    assert messages.moment(lang, when) == expected


# The demo site's policy.


def _demo_app(data_dir: Path) -> Any:
    return create_app({"DATA_DIR": str(data_dir), "SIGNING_KEYS": [SIGNING_KEY]})


def _policy(data_dir: Path, sitekey: str) -> SitePolicy:
    store = open_store("", data_dir / DATABASE_NAME)
    return Policies(store).get(store.site_by_sitekey(sitekey))


def test_new_demo_site_gets_quota(tmp_path) -> None:
    sitekey = _ensure_demo_site(_demo_app(tmp_path))

    assert _policy(tmp_path, sitekey).quotas == DEMO_QUOTAS


def test_earlier_demo_site_gets_quota(tmp_path) -> None:
    # A demo site from before the quota: in the store, with no policy stored.
    store = open_store("", tmp_path / DATABASE_NAME)
    site, secret = create_site(
        store, "Demo pool", ["localhost"], time.time(), demo=True
    )
    (tmp_path / DEMO_SITE_FILE).write_text(
        json.dumps({"sitekey": site.sitekey, "secret": secret})
    )

    assert _ensure_demo_site(_demo_app(tmp_path)) == site.sitekey
    assert _policy(tmp_path, site.sitekey).quotas == DEMO_QUOTAS


@pytest.mark.parametrize(
    "chosen", [SitePolicy(floor=1), SitePolicy()], ids=["changed", "reset"]
)
def test_operator_policy_kept(tmp_path, chosen) -> None:
    sitekey = _ensure_demo_site(_demo_app(tmp_path))
    store = open_store("", tmp_path / DATABASE_NAME)
    Policies(store).set(store.site_by_sitekey(sitekey), chosen)

    assert _ensure_demo_site(_demo_app(tmp_path)) == sitekey
    assert _policy(tmp_path, sitekey) == chosen
