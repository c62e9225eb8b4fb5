"""The demo page keeps its risk ticket fresh: the refresh endpoint and its script.

The portal's service signs tickets that live the shortest time the
configuration allows, so that a test can wait past a ticket's expiry as a
person who takes their time over the form would.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests
from playwright.sync_api import expect

from challenge_service.config import MIN_TTL
from challenge_service.demo.booking import ACTION
from challenge_service.demo.booking import HOUSEHOLD_QUOTA

from .escalation import _create_site
from .escalation import demo_service
from .escalation import pinned_policy
from .portal_steps import fill_with_keyboard
from .portal_steps import focused_element
from .portal_steps import TOKEN_FIELD
from .portal_steps import wait_for_success
from .portal_steps import WIDGET
from .test_booking_flow import csp_violations
from .test_demo_tickets import CONFIRMED_FR
from .test_demo_tickets import Household
from .test_demo_tickets import Portal
from .test_demo_tickets import portal_without_service  # noqa: F401 - a fixture

#: Seconds a pass token lives. The widget renews it at 90 % of that, after
#: the first ticket has expired, so the renewal needs a refreshed ticket.
TOKEN_TTL = 2 * MIN_TTL

#: Values of a new ticket's ``expires_in``: the service counts the lifetime from
#: the whole second of issue, so the ticket may have up to a second less.
TICKET_EXPIRES_IN = (MIN_TTL - 1, MIN_TTL)

#: Headers that a same-origin page script sends to the ticket endpoint.
SCRIPT_HEADERS = {"X-Requested-With": "fetch"}

#: A household id of the shape that the portal makes.
HOUSEHOLD = "Hq2xVw9Lp4Zr7Tb3Nc8Df1"


@pytest.fixture(scope="module")
def short_ticket_portal(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Portal]:
    """Run ``serve --demo`` whose risk tickets live ``MIN_TTL`` seconds.

    The site has the demo's household quota, so every challenge request needs
    a valid ticket, and its policy sets the proof of work as the only step.
    """
    data_dir = tmp_path_factory.mktemp("short-tickets")
    policy = pinned_policy(0, quotas={ACTION: HOUSEHOLD_QUOTA})
    sitekey, secret = _create_site(data_dir, policy)
    env = {
        "CHALLENGE_SERVICE_RISK_TICKET_TTL": str(MIN_TTL),
        "CHALLENGE_SERVICE_TOKEN_TTL": str(TOKEN_TTL),
    }

    with demo_service(data_dir, env) as (process, demo_url):
        yield Portal(process.url, demo_url, sitekey, secret)


@pytest.fixture
def household(short_ticket_portal: Portal) -> Iterator[Household]:
    """Open a household's browser that has loaded the form, and so has its cookie."""
    opened = Household(short_ticket_portal)
    opened.open_form()
    yield opened
    opened.close()


def get_ticket(
    portal: Portal, session: Any = requests, headers: dict[str, str] | None = None
) -> requests.Response:
    """GET the portal's ticket endpoint, with a page script's headers by default."""
    return session.get(
        portal.demo_url + "/demo/risk-ticket",
        headers=SCRIPT_HEADERS if headers is None else headers,
        timeout=15,
    )


def challenge_request(portal: Portal, ticket: str) -> requests.Response:
    """Request a challenge with ``ticket``, as the widget does."""
    widget = Household(portal)

    try:
        return widget.call_service(
            "/api/v1/challenges",
            {"sitekey": portal.sitekey, "action": ACTION, "risk_ticket": ticket},
        )
    finally:
        widget.close()


# The ticket endpoint over HTTP.


def test_new_ticket_books(short_ticket_portal, household) -> None:
    response = get_ticket(short_ticket_portal, household.session)
    body = response.json()

    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in response.headers
    assert set(body) == {"risk_ticket", "expires_in"}
    assert body["expires_in"] in TICKET_EXPIRES_IN

    # The portal confirms only a verdict whose flow used a valid ticket.
    token = household.pass_token(body["risk_ticket"])
    booked = household.submit(token, "lundi-1800", "Awa Diallo")

    assert booked.status_code == 200, booked.text
    assert CONFIRMED_FR in booked.text


@pytest.mark.parametrize(
    "cookies", [{}, {"household": "admin"}], ids=["missing", "malformed"]
)
def test_ticket_without_household_rejected(short_ticket_portal, cookies) -> None:
    response = requests.get(
        short_ticket_portal.demo_url + "/demo/risk-ticket",
        headers=SCRIPT_HEADERS,
        cookies=cookies,
        timeout=15,
    )

    assert response.status_code == 400
    assert response.json()["error"] == "no-household"
    assert "risk_ticket" not in response.json()
    assert response.headers["Cache-Control"] == "no-store"
    # The endpoint never makes a household, so a script cannot mint one.
    assert "Set-Cookie" not in response.headers


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Requested-With": "fetch", "Sec-Fetch-Site": "cross-site"},
        {"X-Requested-With": "fetch", "Sec-Fetch-Site": "same-site"},
    ],
    ids=["no-script-header", "cross-site", "same-site"],
)
def test_cross_origin_request_rejected(
    short_ticket_portal, household, headers
) -> None:
    response = get_ticket(short_ticket_portal, household.session, headers)

    assert response.status_code == 403
    assert response.json()["error"] == "cross-origin-request"
    assert "risk_ticket" not in response.json()
    assert "Access-Control-Allow-Origin" not in response.headers


def test_preflight_not_granted(short_ticket_portal) -> None:
    # A page of another origin must pass this preflight to send the header.
    response = requests.options(
        short_ticket_portal.demo_url + "/demo/risk-ticket",
        headers={
            "Origin": "http://portal.example",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "x-requested-with",
        },
        timeout=15,
    )

    granted = [name for name in response.headers if name.lower().startswith("access-")]

    assert granted == []


def test_ticket_service_down_gives_503(portal_without_service, caplog) -> None:
    client = portal_without_service.test_client()
    client.set_cookie("household", HOUSEHOLD, path="/demo")
    response = client.get("/demo/risk-ticket", headers=SCRIPT_HEADERS)
    failures = [r for r in caplog.records if "risk ticket refresh" in r.getMessage()]

    assert response.status_code == 503
    assert response.get_json()["error"] == "ticket-unavailable"
    assert response.headers["Retry-After"] == "10"
    assert response.headers["Cache-Control"] == "no-store"
    assert len(failures) == 1
    assert HOUSEHOLD not in caplog.text
    assert "secret_b" not in caplog.text


# The page's script, in Chromium.


def test_slow_keyboard_booking_after_ticket_expiry(
    short_ticket_portal, page, page_events
) -> None:
    page.goto(short_ticket_portal.demo_url + "/demo/")
    widget = page.locator(WIDGET)
    first_ticket = widget.get_attribute("data-risk-ticket")

    assert int(widget.get_attribute("data-ticket-expires-in")) in TICKET_EXPIRES_IN

    # Using the form starts the widget's check, with the first ticket.
    fill_with_keyboard(page, "mercredi-1215", "Bérénice Lefèvre")
    first_token = wait_for_success(page)

    # The person takes their time. The widget renews its token at 90 % of
    # TOKEN_TTL, after the first ticket has expired, with the ticket that
    # the attribute contains by then.
    state = renewal_outcome(page, first_token)

    assert state == "success", widget.get_attribute("data-error-code")
    assert widget.get_attribute("data-risk-ticket") != first_ticket
    assert challenge_request(short_ticket_portal, first_ticket).json()["error"] == (
        "invalid-risk-ticket"
    )
    # The refresh left the focus where the person put it.
    assert focused_element(page)["id"] == "name"
    assert csp_violations(page) == []

    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("Réservation confirmée")
    expect(page.locator("#confirmation")).to_contain_text("Bérénice Lefèvre")
    assert page_events.console_errors() == []
    assert page_events.page_errors == []


def renewal_outcome(page: Any, first_token: str) -> str:
    """Wait until the widget renewed ``first_token`` or failed; return its state."""
    page.wait_for_function(
        """([selector, field, first]) => {
            const host = document.querySelector(selector);
            const token = host.querySelector(field).value;
            return host.dataset.state === 'error'
                || (host.dataset.state === 'success' && token !== first);
        }""",
        arg=[WIDGET, TOKEN_FIELD, first_token],
        timeout=(TOKEN_TTL + MIN_TTL) * 1000,
    )
    return page.locator(WIDGET).get_attribute("data-state")
