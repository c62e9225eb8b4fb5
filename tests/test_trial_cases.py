"""Cases found by trying the service as an attacker would."""

from __future__ import annotations

import threading

import pytest

from challenge_service import create_app
from challenge_service import testkeys
from challenge_service.policies import Policies
from challenge_service.policy import SitePolicy
from conftest import Clock
from conftest import Flow
from conftest import ORIGIN
from conftest import SIGNING_KEY
from test_escalation import _booked_token
from test_escalation import _pass
from test_escalation import _set_policy
from test_escalation import _payload
from test_escalation import _ticket


@pytest.mark.parametrize("attempt", range(3))
def test_concurrent_duplicates_keep_quota_slot(app, flow, clock, attempt):
    _set_policy(app, flow.site, quotas={"book": (1, 86400)})
    first = _booked_token(flow, clock)
    second = _booked_token(flow, clock)
    barrier = threading.Barrier(8)
    results = []

    def verify():
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/siteverify", data={"secret": flow.secret, "response": first}
        )
        results.append(response.get_json()["success"])

    threads = [threading.Thread(target=verify) for _ in range(8)]

    for thread in threads:
        thread.start()

    for thread in threads:
        thread.join()

    assert results.count(True) == 1
    assert flow.verify(second)["error-codes"] == ["quota-exceeded"]


def test_test_keys_do_not_count_against_real_sites(app, flow, client):
    public = Flow(
        client,
        app.extensions["challenge_service"].store.site_by_sitekey(
            testkeys.ALWAYS_PASS.sitekey
        ),
        testkeys.ALWAYS_PASS.secret,
    )

    statuses = {
        public.issue(origin="https://attacker.example").status_code for _ in range(130)
    }
    real = flow.issue()

    assert statuses == {201}
    assert real.status_code == 201
    assert real.get_json()["level"] == 0


def test_test_sites_hidden_when_turned_off(tmp_path):
    settings = {
        "TESTING": True,
        "DATA_DIR": str(tmp_path),
        "SIGNING_KEYS": [SIGNING_KEY],
    }
    create_app(settings)
    app = create_app({**settings, "TEST_KEYS": False})
    client = app.test_client()

    issued = client.post(
        "/api/v1/challenges",
        json={"sitekey": testkeys.IMAGE.sitekey, "action": "book"},
        headers={"Origin": "http://localhost:3000"},
    )
    verified = client.post(
        "/api/v1/siteverify",
        data={"secret": testkeys.IMAGE.secret, "response": "anything"},
    )
    ticket = client.post(
        "/api/v1/risk-tickets",
        json={
            "secret": testkeys.IMAGE.secret,
            "subject": "s",
            "risk": 0.1,
            "action": "book",
        },
    )

    assert issued.status_code == 400
    assert issued.get_json()["error"] == "unknown-sitekey"
    assert verified.get_json()["error-codes"] == ["invalid-input-secret"]
    assert ticket.status_code == 403


@pytest.mark.parametrize("risk", [10**400, -(10**400), 1e308])
def test_huge_risk_is_a_clear_error(flow, risk):
    body = f'{{"secret": "{flow.secret}", "subject": "s", "action": "book", "risk": {risk}}}'
    response = flow.client.post(
        "/api/v1/risk-tickets", data=body, content_type="application/json"
    )

    assert response.status_code == 400
    assert response.get_json()["field"] == "risk"


def test_reason_with_trailing_newline_rejected(flow):
    response = _ticket(flow, reasons=["new\n"])

    assert response.status_code == 400
    assert response.get_json()["field"] == "reasons"


def test_wrong_fast_pow_is_not_a_fast_solve(flow):
    issued = flow.issue().get_json()
    flow.answer(issued, nonces=[0] * issued["challenge"]["puzzles"], solve_seconds=0.0)

    assert "fast-solve" not in _payload(flow.issue().get_json()["envelope"])["reasons"]


def test_short_lifetime_leaves_time_after_wait(tmp_path):
    clock = Clock()
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path),
            "SIGNING_KEYS": [SIGNING_KEY],
            "CLOCK": clock,
            "CHALLENGE_TTL": 10,
            "AUDIT_FLUSH_MS": 0,
            "COUNTER_FLUSH_MS": 0,
        }
    )
    from challenge_service.sites import create_site

    store = app.extensions["challenge_service"].store
    site, secret = create_site(store, "Pool", ["localhost"], clock())
    Policies(store).set(site, SitePolicy(floor=4, max_pow_level=0, wait_per_level_ms=0))
    flow = Flow(app.test_client(), site, secret, clock=clock)
    issued = flow.issue().get_json()

    # Only timed steps stay open past the challenge lifetime.
    assert issued["expires_in"] == 10
    image = flow.answer(issued).get_json()
    # Issued 0.4 s later, so 9 whole seconds are left of its 10.
    assert image["expires_in"] == 9
    waiting = flow.switch_to_wait(image).get_json()

    assert waiting["challenge"]["wait_ms"] == 12_000
    assert waiting["expires_in"] >= 12
    final = _pass(flow, clock, waiting)
    assert flow.verify(final["pass_token"])["success"] is True


@pytest.mark.parametrize("text", ["   ", "\ud800"])
def test_blank_or_broken_image_answer_costs_no_attempt(app, flow, clock, text):
    _set_policy(
        app, flow.site, floor=3, max_level=3, max_pow_level=0, wait_per_level_ms=0
    )
    image = flow.answer(flow.issue().get_json()).get_json()

    response = flow.client.post(
        f"/api/v1/challenges/{image['challenge_id']}/answer",
        json={"envelope": image["envelope"], "answer": {"text": text}},
        headers={"Origin": ORIGIN},
    )
    wrong = flow.client.post(
        f"/api/v1/challenges/{image['challenge_id']}/answer",
        json={"envelope": image["envelope"], "answer": {"text": "nope"}},
        headers={"Origin": ORIGIN},
    )

    assert response.status_code == 400
    assert response.get_json()["field"] == "answer.text"
    assert wrong.get_json()["attempts_left"] == 2


def test_huge_policy_number_is_a_clear_error():
    with pytest.raises(ValueError, match="default_risk"):
        SitePolicy.from_dict({"default_risk": 10**400})

    with pytest.raises(ValueError, match="thresholds"):
        SitePolicy.from_dict({"thresholds": [0.1, 0.2, 0.3, 10**400]})


def test_quota_on_unknown_action_name_rejected():
    with pytest.raises(ValueError, match="action"):
        SitePolicy.from_dict({"quotas": {"bad action!": [1, 60]}})


def test_unknown_signal_named():
    with pytest.raises(ValueError, match="nope"):
        SitePolicy.from_dict({"halves": {"nope": 1}})
