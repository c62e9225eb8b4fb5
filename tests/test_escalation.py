"""Escalation through the API: tickets, observed signals, steps and quotas."""

from __future__ import annotations

import base64
import json
import threading

import pytest

from challenge_service import create_app
from challenge_service.media import image as drawing
from challenge_service.policies import Policies
from challenge_service.policy import exact_network_counts
from challenge_service.policy import SitePolicy
from challenge_service.sites import create_site
from challenge_service.signing import Signer
from conftest import ORIGIN
from conftest import SIGNING_KEY
from conftest import START
from conftest import solve_challenge


def _payload(signed: str) -> dict:
    data = signed.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


def _ticket(flow, risk=0.0, subject="household-42", action="book", **extra):
    body = {
        "secret": flow.secret,
        "subject": subject,
        "risk": risk,
        "action": action,
        **extra,
    }
    return flow.client.post("/api/v1/risk-tickets", json=body)


def _set_policy(app, site, **fields):
    Policies(app.extensions["challenge_service"].store).set(site, SitePolicy(**fields))


def _answer_step(flow, clock, issued):
    """Answer one step of any kind the way a person's widget would."""
    challenge = issued["challenge"]

    if challenge["kind"] == "pow":
        return flow.answer(issued)

    if challenge["kind"] == "timing":
        duration = challenge.get("hold_ms") or challenge["wait_ms"]
        clock.advance(duration / 1000)
        answer = (
            {"held_ms": duration, "input": "key"} if challenge["mode"] == "hold" else {}
        )
        return flow.client.post(
            f"/api/v1/challenges/{issued['challenge_id']}/answer",
            json={"envelope": issued["envelope"], "answer": answer},
            headers={"Origin": ORIGIN},
        )

    if challenge["kind"] == "image":
        clock.advance(3)
        return flow.client.post(
            f"/api/v1/challenges/{issued['challenge_id']}/answer",
            json={
                "envelope": issued["envelope"],
                "answer": {"text": image_answer(issued)},
            },
            headers={"Origin": ORIGIN},
        )

    raise AssertionError(f"unexpected kind {challenge['kind']}")


def image_answer(issued: dict) -> str:
    """Return what a person reads in the image of an image challenge."""
    state = _payload(issued["envelope"])
    _, secret = Signer([SIGNING_KEY]).derive(
        f"challenge:{issued['challenge_id']}", state["k"]
    )
    return drawing.draw(issued["challenge"]["family"], secret, state["style"]).answer


def _pass(flow, clock, issued):
    """Run every step of a flow and return the final answer body."""
    for _ in range(5):
        body = _answer_step(flow, clock, issued).get_json()

        if body.get("result") != "next":
            return body

        issued = body

    raise AssertionError("the flow did not end")


# Risk tickets.


def test_ticket_with_high_risk_escalates(flow):
    low = _ticket(flow, risk=0.0).get_json()["risk_ticket"]
    high = _ticket(flow, risk=0.95).get_json()["risk_ticket"]

    trusted = flow.issue(risk_ticket=low).get_json()
    risky = flow.issue(risk_ticket=high).get_json()

    assert trusted["level"] == 0
    assert trusted["steps"] == 1
    assert risky["level"] == 4
    assert risky["steps"] >= 2
    assert "portal-risk" in _payload(risky["envelope"])["reasons"]


def test_ticket_response_shape(flow):
    response = _ticket(flow, risk=0.2, reasons=["new-account"])
    body = response.get_json()

    assert response.status_code == 201
    assert body["expires_in"] == 300
    assert body["expires_at"].endswith("Z")
    assert "household-42" not in _payload(body["risk_ticket"]).values()
    assert "household-42" not in json.dumps(_payload(body["risk_ticket"]))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"risk": 1.5}, "risk"),
        ({"risk": -0.1}, "risk"),
        ({"risk": True}, "risk"),
        ({"risk": "0.5"}, "risk"),
        ({"subject": ""}, "subject"),
        ({"subject": " \t "}, "subject"),
        ({"subject": "x" * 129}, "subject"),
        ({"action": "no spaces"}, "action"),
        ({"reasons": ["UPPER"]}, "reasons"),
        ({"reasons": ["ok"] * 9}, "reasons"),
        ({"reasons": "new-account"}, "reasons"),
    ],
)
def test_ticket_rejects_bad_fields(flow, fields, field):
    response = _ticket(flow, **fields)

    assert response.status_code == 400
    assert response.get_json()["field"] == field
    assert field in response.get_json()["message"]


def test_ticket_signs_negative_zero_as_zero(flow):
    body = _ticket(flow, risk=-0.0).get_json()

    assert json.dumps(_payload(body["risk_ticket"])["risk"]) == "0.0"


def test_ticket_rejects_unknown_secret(flow):
    response = flow.client.post(
        "/api/v1/risk-tickets",
        json={"secret": "secret_nope", "subject": "a", "risk": 0.1, "action": "book"},
    )

    assert response.status_code == 403
    assert response.get_json()["error"] == "invalid-secret"


def test_forged_ticket_rejected(flow):
    ticket = _ticket(flow, risk=0.9).get_json()["risk_ticket"]
    payload, signature = ticket.split(".")
    data = _payload(ticket)
    data["risk"] = 0.0
    forged = (
        base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
        + "."
        + signature
    )

    response = flow.issue(risk_ticket=forged)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid-risk-ticket"
    assert response.get_json()["field"] == "risk_ticket"


def test_expired_ticket_rejected(flow, clock):
    ticket = _ticket(flow, risk=0.1).get_json()["risk_ticket"]
    clock.advance(301)

    response = flow.issue(risk_ticket=ticket)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid-risk-ticket"
    assert "expired" in response.get_json()["message"]


def test_empty_ticket_means_no_ticket(flow):
    response = flow.issue(risk_ticket="")

    assert response.status_code == 201
    assert response.get_json()["level"] == 0


def test_ticket_for_other_action_rejected(flow):
    ticket = _ticket(flow, risk=0.1, action="cancel").get_json()["risk_ticket"]

    response = flow.issue(action="book", risk_ticket=ticket)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid-risk-ticket"


def test_ticket_for_other_site_rejected(flow, client, other_site):
    from conftest import Flow

    rink = Flow(client, *other_site)
    ticket = _ticket(rink, risk=0.1).get_json()["risk_ticket"]

    response = flow.issue(risk_ticket=ticket)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid-risk-ticket"


# Signals the service observes.


def test_wrong_answers_escalate(flow):
    assert flow.issue().get_json()["level"] == 0

    for _ in range(4):
        issued = flow.issue().get_json()
        response = flow.answer(issued, nonces=[0] * issued["challenge"]["puzzles"])
        assert response.status_code == 422

    escalated = flow.issue().get_json()

    assert escalated["level"] >= 1
    assert "wrong-answers" in _payload(escalated["envelope"])["reasons"]


def test_too_fast_pow_escalates(flow):
    issued = flow.issue().get_json()
    nonces = solve_challenge(issued["challenge"])
    response = flow.answer(issued, nonces=nonces, solve_seconds=0.0)

    assert response.status_code == 200
    escalated = flow.issue().get_json()
    assert escalated["level"] >= 1
    assert "fast-solve" in _payload(escalated["envelope"])["reasons"]


def test_reported_rate_far_below_implied_escalates(flow):
    issued = flow.issue().get_json()
    flow.answer(issued, solve_seconds=1.0, client={"hash_rate": 10_000})

    assert "fast-solve" in _payload(flow.issue().get_json()["envelope"])["reasons"]


def test_plausible_solve_does_not_escalate(flow):
    issued = flow.issue().get_json()
    flow.answer(issued, solve_seconds=0.5, client={"hash_rate": 4_000_000})

    assert flow.issue().get_json()["level"] == 0


def test_burst_of_requests_escalates(app, flow):
    levels = [flow.issue().get_json()["level"] for _ in range(60)]

    assert levels[0] == 0
    assert levels[-1] >= 1
    assert levels == sorted(levels)


def test_network_limit_answers_429(app, flow):
    _set_policy(app, flow.site, network_limit=5)

    statuses = [flow.issue().status_code for _ in range(7)]

    assert statuses[:5] == [201] * 5
    assert statuses[5:] == [429, 429]
    response = flow.issue()
    assert response.get_json()["error"] == "rate-limited"
    assert int(response.headers["Retry-After"]) >= 1


def test_network_limit_exact_across_processes(tmp_path, clock):
    """Two services that batch their counts share one store, as workers do."""
    config = {
        "TESTING": True,
        "DATA_DIR": str(tmp_path),
        "SIGNING_KEYS": [SIGNING_KEY],
        "CLOCK": clock,
        "AUDIT_FLUSH_MS": 0,
        # Counts reach the store only when a test flushes them.
        "COUNTER_FLUSH_MS": 10_000,
    }
    apps = [create_app(config), create_app(config)]
    services = [app.extensions["challenge_service"] for app in apps]
    site, _ = create_site(services[0].store, "Pool", ["localhost"], START)
    _set_policy(apps[0], site, network_limit=12)
    clients = [app.test_client() for app in apps]
    statuses = []

    for index in range(16):
        response = clients[index % 2].post(
            "/api/v1/challenges",
            json={"sitekey": site.sitekey, "action": "book"},
            headers={"Origin": ORIGIN},
        )
        statuses.append(response.status_code)

        if index == 7:
            # The interval passes once: from here on, each service's view
            # is past the start of the exact range.
            for service in services:
                service.visitors.flush()

    assert statuses == [201] * 12 + [429] * 4


def test_exact_network_counts_defaults():
    assert exact_network_counts(SitePolicy()) == (5, 121)
    assert exact_network_counts(SitePolicy(network_limit=0)) == (5, 68)
    assert exact_network_counts(SitePolicy(thresholds=(1.0, 1.0, 1.0, 1.0))) == (0, 0)


def test_site_burst_raises_floor(app, flow):
    _set_policy(app, flow.site, burst_per_minute=3, network_limit=0)

    levels = [flow.issue().get_json()["level"] for _ in range(4)]

    assert levels[:2] == [0, 0]
    assert levels[2] >= 1


# Steps.


def test_level_two_is_pow_then_hold(app, flow, clock):
    _set_policy(app, flow.site, floor=2)
    issued = flow.issue().get_json()

    assert issued["level"] == 2
    assert (issued["step"], issued["steps"]) == (1, 2)
    following = flow.answer(issued).get_json()
    assert following["result"] == "next"
    assert following["step"] == 2
    assert following["challenge"]["kind"] == "timing"
    assert following["challenge"]["mode"] == "hold"

    final = _pass(flow, clock, following)
    verified = flow.verify(final["pass_token"])

    assert verified["success"] is True
    assert verified["level"] == 2
    assert verified["kinds"] == ["pow", "timing"]


def test_budget_cap_adds_wait_step(app, flow, clock):
    _set_policy(
        app, flow.site, floor=2, max_level=2, max_pow_level=1, wait_per_level_ms=3000
    )
    issued = flow.issue().get_json()
    steps = _payload(issued["envelope"])["steps"]

    assert steps[0] == ["pow", {"level": 1}]
    assert steps[-1] == ["timing", {"mode": "wait", "wait_ms": 3000}]
    final = _pass(flow, clock, issued)
    assert flow.verify(final["pass_token"])["kinds"] == ["pow", "timing", "timing"]


def test_step_answer_cannot_skip_steps(app, flow):
    _set_policy(app, flow.site, floor=2)
    issued = flow.issue().get_json()
    following = flow.answer(issued).get_json()

    # The first step's envelope cannot be answered again to get a token.
    again = flow.answer(issued)

    assert again.status_code == 409
    assert "pass_token" not in following


# Quotas.


def _booked_token(flow, clock, subject="household-42"):
    ticket = _ticket(flow, subject=subject).get_json()["risk_ticket"]
    issued = flow.issue(risk_ticket=ticket).get_json()
    return _pass(flow, clock, issued)["pass_token"]


def test_quota_exceeded_exactly_when_used_up(app, flow, clock):
    _set_policy(app, flow.site, quotas={"book": (2, 7 * 86400)})
    tokens = [_booked_token(flow, clock) for _ in range(3)]

    first, second, third = (flow.verify(token) for token in tokens)

    assert first["success"] is True
    assert second["success"] is True
    assert third["success"] is False
    assert third["error-codes"] == ["quota-exceeded"]
    assert third["quota_frees_at"].endswith("Z")


def test_quota_counts_per_subject(app, flow, clock):
    _set_policy(app, flow.site, quotas={"book": (1, 86400)})

    assert flow.verify(_booked_token(flow, clock, "a"))["success"] is True
    assert flow.verify(_booked_token(flow, clock, "b"))["success"] is True
    assert flow.verify(_booked_token(flow, clock, "a"))["error-codes"] == [
        "quota-exceeded"
    ]


def test_quota_frees_after_window(app, flow, clock):
    _set_policy(app, flow.site, quotas={"book": (1, 3600)})
    assert flow.verify(_booked_token(flow, clock))["success"] is True

    clock.advance(3601)

    assert flow.verify(_booked_token(flow, clock))["success"] is True


def test_every_verify_outcome_is_audited(app, flow, clock):
    store = app.extensions["challenge_service"].store
    token = flow.pass_token()
    flow.verify(token)
    flow.verify(token)
    flow.verify("not-a-token")
    clock.advance(400)
    flow.verify(token)

    events = store.events(0, clock() + 1, 100)
    outcomes = [e["outcome"] for e in events if e["event"] == "verify"]

    assert outcomes == [
        "success",
        "already-seen-response",
        "invalid-input-response",
        "expired-input-response",
    ]
    # The flow ran without a risk ticket, and the trail records that.
    assert events[0]["risk_ticket"] is False
    assert events[2]["risk_ticket"] is False


def test_duplicate_verify_does_not_use_quota(app, flow, clock):
    _set_policy(app, flow.site, quotas={"book": (2, 86400)})
    token = _booked_token(flow, clock)

    assert flow.verify(token)["success"] is True
    assert flow.verify(token)["error-codes"] == [
        "timeout-or-duplicate",
        "already-seen-response",
    ]
    assert flow.verify(_booked_token(flow, clock))["success"] is True


def test_duplicate_verify_keeps_first_slot(app, flow, clock):
    _set_policy(app, flow.site, quotas={"book": (1, 86400)})
    first = _booked_token(flow, clock)
    second = _booked_token(flow, clock)

    assert flow.verify(first)["success"] is True
    assert flow.verify(first)["error-codes"][0] == "timeout-or-duplicate"
    assert flow.verify(second)["error-codes"] == ["quota-exceeded"]


def test_quota_race_gives_one_success(app, flow, clock, tmp_path):
    _set_policy(app, flow.site, quotas={"book": (1, 86400)})
    tokens = [_booked_token(flow, clock) for _ in range(8)]
    results = []
    barrier = threading.Barrier(len(tokens))

    def verify(token):
        client = app.test_client()
        barrier.wait()
        response = client.post(
            "/api/v1/siteverify", data={"secret": flow.secret, "response": token}
        )
        results.append(response.get_json())

    threads = [threading.Thread(target=verify, args=(token,)) for token in tokens]

    for thread in threads:
        thread.start()

    for thread in threads:
        thread.join()

    successes = [r for r in results if r["success"]]
    assert len(successes) == 1
    assert all(
        r["error-codes"] == ["quota-exceeded"] for r in results if not r["success"]
    )


# Audit trail.


def test_audit_records_decisions_without_raw_data(app, flow, clock, caplog):
    caplog.set_level("DEBUG")
    ticket = _ticket(flow, risk=0.95, subject="household-42").get_json()["risk_ticket"]
    issued = flow.issue(risk_ticket=ticket).get_json()
    token = _pass(flow, clock, issued)["pass_token"]
    flow.verify(token)
    store = app.extensions["challenge_service"].store

    events = store.events(0, clock() + 1, 100)
    text = json.dumps(events)

    kinds = [event["event"] for event in events]
    assert kinds == ["challenge", "answer", "verify"]
    assert events[0]["level"] == 4
    assert "portal-risk" in events[0]["reasons"]
    assert events[2]["outcome"] == "success"
    assert events[0]["risk_ticket"] is True
    assert events[2]["risk_ticket"] is True
    assert "127.0.0.1" not in text
    assert "household-42" not in text
    assert flow.secret not in text
    assert token not in text
    assert token.split(".")[1] not in text

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "challenge_service" in " ".join(record.name for record in caplog.records)
    for secret_value in ("127.0.0.1", "household-42", flow.secret, token, ticket):
        assert secret_value not in logged
