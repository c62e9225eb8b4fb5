"""Contract tests of risk tickets, rate limits, quotas and the test keys.

Risk tickets come from ``POST /api/v1/risk-tickets`` and change the level of
the challenges that carry them. Their subject makes the site's quotas apply
at siteverify. Every response these tests receive is checked against
``openapi.yaml`` with openapi-core, like the exchanges in ``test_openapi.py``.
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from challenge_service import config
from challenge_service import testkeys
from challenge_service.policies import Policies
from challenge_service.policy import SitePolicy
from challenge_service.signing import ENVELOPE
from challenge_service.signing import PASS_TOKEN
from challenge_service.tickets import MAX_REASONS
from conftest import Flow
from conftest import ORIGIN
from openapi_contract import assert_error
from openapi_contract import assert_siteverify_failure
from openapi_contract import break_store
from openapi_contract import Contract
from openapi_contract import FOREIGN_ORIGIN
from openapi_contract import isoformat
from openapi_contract import JSON
from openapi_contract import level_flow
from openapi_contract import load_document
from openapi_contract import pass_all_steps
from openapi_contract import post_answer
from openapi_contract import post_body
from openapi_contract import post_siteverify
from tests.helpers import stored_rows

TICKETS = "/api/v1/risk-tickets"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(load_document())


@pytest.fixture
def service(app):
    return app.extensions["challenge_service"]


def ticket_body(flow: Flow, **fields: Any) -> dict:
    """Return a valid ticket request for ``flow``'s site with ``fields`` changed.

    A field given as ``...`` is left out.
    """
    body = {
        "secret": flow.secret,
        "subject": "account-5812",
        "risk": 0.1,
        "action": "book",
        **fields,
    }
    return {name: value for name, value in body.items() if value is not ...}


def request_ticket(flow: Flow, **fields: Any) -> str:
    response = post_body(flow.client, TICKETS, ticket_body(flow, **fields), origin=None)
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()["risk_ticket"]


def ticket_payload(ticket: str) -> dict:
    data = ticket.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


# Creating a risk ticket


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"risk": 0},
        {"risk": 1},
        {"reasons": []},
        {"reasons": [f"reason-{index}" for index in range(MAX_REASONS)]},
        {"reasons": ["0", "a" * 32, "new.account_2-b"]},
        {"subject": "s" * 128, "action": "Z9_.-" + "a" * 27},
        {"comment": "unknown fields are ignored"},
    ],
    ids=[
        "minimal",
        "risk-0",
        "risk-1",
        "reasons-empty",
        "reasons-max",
        "reasons-edge-codes",
        "fields-at-max-length",
        "extra-field",
    ],
)
def test_ticket_created(flow, contract, clock, fields):
    response = post_body(flow.client, TICKETS, ticket_body(flow, **fields), origin=None)

    assert response.status_code == 201, response.get_data(as_text=True)
    contract.check(response)
    body = response.get_json()
    ttl = config.DEFAULTS["RISK_TICKET_TTL"]
    assert body["expires_in"] == ttl
    assert body["expires_at"] == isoformat(clock.now + ttl)
    assert response.headers["Cache-Control"] == "no-store"
    assert "Access-Control-Allow-Origin" not in response.headers
    # The ticket carries keyed hashes of the subject, never the subject.
    subject = ticket_body(flow, **fields)["subject"]
    assert subject not in json.dumps(ticket_payload(body["risk_ticket"]))


@dataclass(frozen=True)
class TicketRejection:
    """A ticket request that the service rejects, and the Error it returns."""

    body: Callable[[Flow], Any]
    status: int
    error: str
    field: str | None
    request_valid: bool | None = False
    content_type: str = JSON
    mentions: str | None = None


def invalid_ticket(field: str, **fields: Any) -> TicketRejection:
    return TicketRejection(
        lambda flow: ticket_body(flow, **fields), 400, "invalid-request", field
    )


TICKET_REJECTIONS = [
    pytest.param(
        TicketRejection(
            lambda flow: json.dumps(ticket_body(flow)).encode(),
            415,
            "unsupported-media-type",
            "Content-Type",
            content_type="text/plain",
        ),
        id="text-plain-body",
    ),
    pytest.param(
        TicketRejection(lambda flow: b'{"secret": ', 400, "invalid-request", None, mentions="JSON"),
        id="invalid-json",
    ),
    pytest.param(
        TicketRejection(lambda flow: b"[]", 400, "invalid-request", None, mentions="JSON object"),
        id="json-array",
    ),
    pytest.param(invalid_ticket("secret", secret=...), id="secret-missing"),
    pytest.param(invalid_ticket("secret", secret=""), id="secret-empty"),
    pytest.param(invalid_ticket("secret", secret=7), id="secret-number"),
    pytest.param(invalid_ticket("secret", secret="s" * 129), id="secret-129-chars"),
    pytest.param(invalid_ticket("subject", subject=...), id="subject-missing"),
    pytest.param(invalid_ticket("subject", subject=""), id="subject-empty"),
    pytest.param(invalid_ticket("subject", subject=42), id="subject-number"),
    pytest.param(invalid_ticket("subject", subject="s" * 129), id="subject-129-chars"),
    pytest.param(invalid_ticket("action", action=...), id="action-missing"),
    pytest.param(invalid_ticket("action", action="book now"), id="action-space"),
    pytest.param(invalid_ticket("action", action="a" * 33), id="action-33-chars"),
    pytest.param(invalid_ticket("risk", risk=...), id="risk-missing"),
    pytest.param(invalid_ticket("risk", risk=None), id="risk-null"),
    pytest.param(invalid_ticket("risk", risk="0.5"), id="risk-string"),
    pytest.param(invalid_ticket("risk", risk=True), id="risk-boolean"),
    pytest.param(invalid_ticket("risk", risk=-0.1), id="risk-negative"),
    pytest.param(invalid_ticket("risk", risk=1.01), id="risk-above-1"),
    pytest.param(invalid_ticket("reasons", reasons=None), id="reasons-null"),
    pytest.param(invalid_ticket("reasons", reasons="new-account"), id="reasons-string"),
    pytest.param(
        invalid_ticket("reasons", reasons=["ok"] * (MAX_REASONS + 1)),
        id="reasons-too-many",
    ),
    pytest.param(invalid_ticket("reasons", reasons=["UPPER"]), id="reason-upper-case"),
    pytest.param(invalid_ticket("reasons", reasons=["-lead"]), id="reason-leading-dash"),
    pytest.param(invalid_ticket("reasons", reasons=["a" * 33]), id="reason-33-chars"),
    pytest.param(invalid_ticket("reasons", reasons=[1]), id="reason-number"),
    pytest.param(invalid_ticket("reasons", reasons=[""]), id="reason-empty"),
    pytest.param(
        TicketRejection(
            lambda flow: ticket_body(flow, secret="secret_unknown"),
            403,
            "invalid-secret",
            "secret",
            request_valid=True,
        ),
        id="secret-unknown",
    ),
    pytest.param(
        TicketRejection(
            lambda flow: ticket_body(flow, padding="x" * 17_000),
            413,
            "payload-too-large",
            None,
            request_valid=None,
            mentions=str(config.DEFAULTS["MAX_BODY_BYTES"]),
        ),
        id="body-too-large",
    ),
]


@pytest.mark.parametrize("case", TICKET_REJECTIONS)
def test_ticket_rejects(flow, contract, case):
    response = post_body(
        flow.client, TICKETS, case.body(flow), origin=None, content_type=case.content_type
    )

    assert_error(response, case.status, case.error, case.field, case.mentions)
    contract.check(response, request_valid=case.request_valid)


def test_ticket_rejects_site_key_as_secret(flow, contract):
    response = post_body(
        flow.client, TICKETS, ticket_body(flow, secret=flow.site.sitekey), origin=None
    )

    assert_error(response, 403, "invalid-secret", "secret")
    contract.check(response)


def test_ticket_store_unavailable(flow, store, contract):
    break_store(store)
    response = post_body(flow.client, TICKETS, ticket_body(flow), origin=None)

    assert_error(response, 503, "store-unavailable", None)
    assert response.headers["Retry-After"] == "1"
    contract.check(response)


def test_ticket_unexpected_error(flow, service, contract, monkeypatch):
    def fail(*args: Any) -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(service.tickets, "sign", fail)
    response = post_body(flow.client, TICKETS, ticket_body(flow), origin=None)

    assert_error(response, 500, "internal-error", None, mentions="error id")
    assert "simulated failure" not in response.get_data(as_text=True)
    contract.check(response)


# Issuing a challenge with a ticket


@pytest.mark.parametrize(
    ("risk", "level", "steps"),
    [(0.0, 0, 1), (0.35, 1, 1), (0.95, 4, 2)],
    ids=["trusted", "level-1", "level-4"],
)
def test_ticket_sets_level(flow, contract, risk, level, steps):
    ticket = request_ticket(flow, risk=risk)
    response = flow.issue(risk_ticket=ticket)

    assert response.status_code == 201, response.get_data(as_text=True)
    contract.check(response)
    body = response.get_json()
    assert body["level"] == level
    assert body["steps"] == steps


def test_issue_with_null_ticket(flow, contract):
    response = flow.issue(risk_ticket=None)

    assert response.status_code == 201, response.get_data(as_text=True)
    contract.check(response)
    assert response.get_json()["level"] == 0


def forged(ticket: str) -> str:
    """Return ``ticket`` with its risk set to 0 and its signature kept."""
    payload = ticket_payload(ticket)
    payload["risk"] = 0.0
    data = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=")
    return data.decode() + "." + ticket.split(".")[1]


@pytest.mark.parametrize(
    ("make_ticket", "mentions"),
    [
        (lambda flow, other: forged(request_ticket(flow, risk=0.9)), "not a ticket"),
        (lambda flow, other: request_ticket(flow, action="cancel"), "'cancel'"),
        (lambda flow, other: request_ticket(other), "another site"),
        (lambda flow, other: "not-a-ticket", "not a ticket"),
    ],
    ids=["forged", "other-action", "other-site", "garbage"],
)
def test_issue_rejects_risk_ticket(
    flow, client, other_site, contract, make_ticket, mentions
):
    other = Flow(client, *other_site)
    response = flow.issue(risk_ticket=make_ticket(flow, other))

    assert_error(response, 400, "invalid-risk-ticket", "risk_ticket", mentions=mentions)
    contract.check(response)
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_issue_rejects_expired_risk_ticket(flow, contract, clock):
    ticket = request_ticket(flow)
    clock.advance(config.DEFAULTS["RISK_TICKET_TTL"])
    response = flow.issue(risk_ticket=ticket)

    assert_error(response, 400, "invalid-risk-ticket", "risk_ticket", mentions="expired")
    contract.check(response)


@pytest.mark.parametrize(
    "value",
    [42, "t" * 2049, ["ticket"]],
    ids=["number", "2049-chars", "list"],
)
def test_issue_rejects_malformed_risk_ticket(flow, contract, value):
    response = flow.issue(risk_ticket=value)

    assert_error(response, 400, "invalid-request", "risk_ticket")
    contract.check(response, request_valid=False)


def test_issue_rate_limited(flow, store, contract):
    Policies(store).set(flow.site, SitePolicy(network_limit=1))
    first = flow.issue()
    response = flow.issue()

    assert first.status_code == 201, first.get_data(as_text=True)
    assert_error(response, 429, "rate-limited", None, mentions="wait")
    window = SitePolicy().window_seconds
    assert response.headers["Retry-After"] == str(window)
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After"
    contract.check(response)


# Siteverify: level, kinds, reasons and quotas


def test_siteverify_reports_portal_risk(flow, contract):
    ticket = request_ticket(flow, risk=0.95)
    issued = flow.issue(risk_ticket=ticket).get_json()
    passed = pass_all_steps(flow, issued, contract)
    response = post_siteverify(
        flow.client, {"secret": flow.secret, "response": passed["pass_token"]}
    )

    assert response.status_code == 200
    contract.check(response)
    body = response.get_json()
    assert body["success"] is True
    assert body["level"] == 4
    assert body["kinds"] == ["pow", "image"]
    assert body["reasons"] == ["portal-risk"]


# Siteverify: whether the flow carried a risk ticket


def verify_success(flow: Flow, contract: Contract, token: str) -> dict:
    """Verify ``token``, check that it succeeded and return the response body."""
    response = post_siteverify(flow.client, {"secret": flow.secret, "response": token})

    assert response.status_code == 200
    contract.check(response)
    body = response.get_json()
    assert body["success"] is True, body
    return body


@pytest.mark.parametrize(
    ("risk", "steps"), [(0.0, 1), (0.95, 2)], ids=["one-step", "two-steps"]
)
def test_siteverify_reports_risk_ticket(flow, contract, risk, steps):
    issued = flow.issue(risk_ticket=request_ticket(flow, risk=risk)).get_json()
    passed = pass_all_steps(flow, issued, contract)

    assert issued["steps"] == steps
    assert verify_success(flow, contract, passed["pass_token"])["risk_ticket"] is True


@pytest.mark.parametrize("ticket", [..., None, ""], ids=["absent", "null", "empty"])
def test_siteverify_reports_missing_risk_ticket(flow, contract, ticket):
    extra = {} if ticket is ... else {"risk_ticket": ticket}
    issued = flow.issue(**extra).get_json()
    passed = pass_all_steps(flow, issued, contract)

    assert verify_success(flow, contract, passed["pass_token"])["risk_ticket"] is False


def test_pass_token_records_ticket_without_subject(flow, contract):
    ticket = request_ticket(flow, subject="account-5812")
    issued = flow.issue(risk_ticket=ticket).get_json()
    token = pass_all_steps(flow, issued, contract)["pass_token"]
    payload = ticket_payload(token)

    assert payload["rt"] is True
    assert "account-5812" not in json.dumps(payload)


def test_siteverify_old_token_without_field(flow, service, contract, clock):
    # Tokens signed before the service recorded the ticket have no "rt".
    now = int(clock.now)
    token = service.signer.sign(
        PASS_TOKEN,
        {
            "jti": "old-token-0001",
            "site": flow.site.sitekey,
            "action": "book",
            "host": "localhost",
            "level": 0,
            "kinds": ["pow"],
            "reasons": [],
            "iat": now,
            "exp": now + 300,
        },
    )

    assert verify_success(flow, contract, token)["risk_ticket"] is False


@pytest.mark.parametrize("risk", [0.0, 0.95], ids=["last-step", "first-of-two"])
def test_old_envelope_without_field_passes(flow, service, contract, risk):
    # An envelope signed before the service recorded the ticket has no "rt".
    # Its flow still finishes, and its token reports no ticket.
    issued = flow.issue(risk_ticket=request_ticket(flow, risk=risk)).get_json()
    state = service.signer.load(ENVELOPE, issued["envelope"])
    del state["rt"]
    old = {**issued, "envelope": service.signer.sign(ENVELOPE, state)}
    passed = pass_all_steps(flow, old, contract)

    assert verify_success(flow, contract, passed["pass_token"])["risk_ticket"] is False


@pytest.fixture
def ticket_flow(client, store, clock) -> Flow:
    """Return a flow on a site that requires a risk ticket with every request."""
    return level_flow(client, store, clock, 0, require_risk_ticket=True)


@pytest.mark.parametrize("ticket", [..., None, ""], ids=["absent", "null", "empty"])
def test_issue_needs_ticket_when_site_requires_one(ticket_flow, app, contract, ticket):
    extra = {} if ticket is ... else {"risk_ticket": ticket}
    before = stored_rows(app)
    response = ticket_flow.issue(**extra)

    assert_error(response, 400, "invalid-risk-ticket", "risk_ticket", mentions="missing")
    assert "data-risk-ticket" in response.get_json()["message"]
    contract.check(response)
    assert stored_rows(app) == before


def test_issue_with_ticket_when_site_requires_one(ticket_flow, contract):
    response = ticket_flow.issue(
        action="cancel", risk_ticket=request_ticket(ticket_flow, action="cancel")
    )

    assert response.status_code == 201, response.get_data(as_text=True)
    contract.check(response)
    passed = pass_all_steps(ticket_flow, response.get_json(), contract)
    body = verify_success(ticket_flow, contract, passed["pass_token"])
    assert body["action"] == "cancel"
    assert body["risk_ticket"] is True


def booked_token(flow: Flow, contract: Contract, subject: str = "account-5812") -> str:
    ticket = request_ticket(flow, subject=subject)
    issued = flow.issue(risk_ticket=ticket).get_json()
    return pass_all_steps(flow, issued, contract)["pass_token"]


@pytest.fixture
def quota_flow(client, store, clock) -> Flow:
    """Return a flow on a site that allows one booking per subject a day."""
    return level_flow(client, store, clock, 0, quotas={"book": (1, 86400)})


def test_siteverify_quota_exceeded(quota_flow, contract, clock):
    first_token = booked_token(quota_flow, contract)
    first_at = clock.now
    first = quota_flow.verify(first_token)
    second_token = booked_token(quota_flow, contract)
    response = post_siteverify(
        quota_flow.client, {"secret": quota_flow.secret, "response": second_token}
    )

    assert first["success"] is True
    assert_siteverify_failure(response, ["quota-exceeded"])
    contract.check(response)
    body = response.get_json()
    assert body["action"] == "book"
    assert body["quota_frees_at"] == isoformat(math.ceil(first_at + 86400))
    assert "quota_frees_at" in body["message"]


def test_siteverify_quota_counts_per_subject(quota_flow, contract):
    first = quota_flow.verify(booked_token(quota_flow, contract, "account-1"))
    other = post_siteverify(
        quota_flow.client,
        {
            "secret": quota_flow.secret,
            "response": booked_token(quota_flow, contract, "account-2"),
        },
    )

    assert first["success"] is True
    assert other.get_json()["success"] is True
    contract.check(other)


def test_issue_needs_ticket_for_action_with_quota(quota_flow, contract):
    # Without a ticket no subject could be counted, so the quota would not apply.
    response = quota_flow.issue()

    assert_error(response, 400, "invalid-risk-ticket", "risk_ticket", mentions="missing")
    contract.check(response)


def test_issue_without_ticket_for_other_action(quota_flow, contract):
    response = quota_flow.issue(action="cancel")

    assert response.status_code == 201
    contract.check(response)


def test_siteverify_quota_idempotent_retry(quota_flow, contract):
    fields = {
        "secret": quota_flow.secret,
        "response": booked_token(quota_flow, contract),
        "idempotency_key": "booking-1",
    }
    first = post_siteverify(quota_flow.client, fields)
    retry = post_siteverify(quota_flow.client, fields)

    assert first.get_json()["success"] is True
    assert retry.get_json() == first.get_json()
    contract.check(retry)


# Published test keys


def test_always_pass_secret_verifies_anything(client, contract, clock):
    fields = {"secret": testkeys.ALWAYS_PASS_SECRET, "response": "anything"}
    response = post_siteverify(client, fields)

    assert response.status_code == 200
    contract.check(response)
    assert response.get_json() == {
        "success": True,
        "challenge_ts": isoformat(clock.now),
        "hostname": "localhost",
        "action": "test",
        "level": 0,
        "kinds": [],
        "reasons": [],
        "risk_ticket": False,
        "error-codes": [],
    }


def test_always_fail_secret_fails_everything(client, contract):
    fields = {"secret": testkeys.ALWAYS_FAIL_SECRET, "response": "anything"}
    response = post_siteverify(client, fields)

    assert_siteverify_failure(response, ["invalid-input-response"])
    contract.check(response)


def test_test_site_key_any_origin(client, contract, clock):
    flow = Flow(client, published_site(client, testkeys.ALWAYS_PASS), "", clock=clock)
    issued = flow.issue(origin=FOREIGN_ORIGIN)

    assert issued.status_code == 201, issued.get_data(as_text=True)
    contract.check(issued)
    response = flow.answer(issued.get_json(), origin=FOREIGN_ORIGIN)

    assert response.status_code == 200, response.get_data(as_text=True)
    contract.check(response)
    assert response.get_json()["result"] == "pass"


def test_always_fail_site_rejects_answers(client, contract, clock):
    flow = Flow(client, published_site(client, testkeys.ALWAYS_FAIL), "", clock=clock)
    issued = flow.issue().get_json()
    response = flow.answer(issued)

    assert_error(response, 422, "wrong-answer", "answer", mentions="always fails")
    contract.check(response)
    assert "attempts_left" not in response.get_json()


def test_always_fail_site_checks_answer_shape(client, contract, clock):
    flow = Flow(client, published_site(client, testkeys.ALWAYS_FAIL), "", clock=clock)
    issued = flow.issue().get_json()
    response = post_answer(client, issued, [1])

    assert_error(response, 400, "invalid-request", "answer")
    contract.check(response, request_valid=False)


def published_site(client, test_site: testkeys.TestSite):
    """Return the stored site of a published test site."""
    store = client.application.extensions["challenge_service"].store
    site = store.site_by_sitekey(test_site.sitekey)
    assert site is not None, test_site.sitekey
    return site
