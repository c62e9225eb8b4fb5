"""The widget-facing endpoints: issue a challenge and answer it."""

from __future__ import annotations

import base64
import json

import pytest

from challenge_service.challenges import proof_of_work
from challenge_service.challenges.proof_of_work import leading_zero_bits
from challenge_service.challenges.proof_of_work import MAX_PUZZLES
from challenge_service.challenges.proof_of_work import MAX_NONCE
from tests.conftest import ORIGIN
from tests.conftest import solve_challenge
from tests.helpers import stored_rows


def test_issue_returns_pow_challenge(flow):
    response = flow.issue()
    body = response.get_json()

    assert response.status_code == 201
    assert body["level"] == 0
    assert body["expires_in"] == 300
    assert body["expires_at"].endswith("Z")
    assert len(body["challenge_id"]) == 22
    assert body["challenge"]["kind"] == "pow"
    assert body["challenge"]["algorithm"] == "SHA-256"
    assert body["step"] == 1
    assert body["steps"] == 1
    costs = {proof_of_work.cost(0, name) for name in proof_of_work.VARIANTS}
    challenge = body["challenge"]
    shape = (challenge["bits"], challenge["puzzles"], len(challenge["salt"]))
    assert shape in costs


def test_issue_answers_cors(flow):
    response = flow.issue()

    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert response.headers["Vary"] == "Origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_preflight_allows_json_post(client):
    response = client.options(
        "/api/v1/challenges",
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type"


@pytest.mark.parametrize(
    "origin", ["https://portal.example.fr", "http://localhost", ORIGIN]
)
def test_issue_accepts_site_hostnames(flow, origin):
    assert flow.issue(origin=origin).status_code == 201


@pytest.mark.parametrize(
    "origin",
    ["https://evil.example", "https://portal.example.fr.evil.example", "null"],
)
def test_issue_rejects_foreign_origin(flow, origin):
    response = flow.issue(origin=origin)

    assert response.status_code == 403
    assert response.get_json()["error"] == "origin-not-allowed"
    assert response.get_json()["field"] == "Origin"


def test_issue_rejects_missing_origin(client, site):
    response = client.post(
        "/api/v1/challenges", json={"sitekey": site[0].sitekey, "action": "book"}
    )

    assert response.status_code == 403
    assert "Origin header is missing" in response.get_json()["message"]


def test_issue_rejects_unknown_sitekey(client):
    response = client.post(
        "/api/v1/challenges",
        json={"sitekey": "site_unknown", "action": "book"},
        headers={"Origin": ORIGIN},
    )

    assert response.status_code == 400
    assert response.get_json()["error"] == "unknown-sitekey"
    assert response.get_json()["field"] == "sitekey"


def test_answer_returns_pass_token(flow):
    issued = flow.issue().get_json()
    response = flow.answer(issued, solve_seconds=1)
    body = response.get_json()

    assert response.status_code == 200
    assert body["result"] == "pass"
    assert body["expires_in"] == 300
    assert 0 < len(body["pass_token"]) < 400


def test_solution_has_enough_zero_bits(flow):
    import hashlib

    issued = flow.issue().get_json()
    challenge = issued["challenge"]

    for index, nonce in enumerate(solve_challenge(challenge)):
        message = f"{challenge['salt']}:{index}:{nonce}".encode()
        digest = hashlib.sha256(message).digest()
        assert leading_zero_bits(digest) >= challenge["bits"]


def test_wrong_answer_keeps_challenge_open(flow):
    issued = flow.issue().get_json()
    nonces = solve_challenge(issued["challenge"])
    wrong = [nonces[0] + 1 if i == 0 else n for i, n in enumerate(nonces)]
    # The next nonce after a solution may solve it too; search a failing one.
    from challenge_service.challenges import get

    while get("pow").check(issued["challenge"], wrong, None).correct:
        wrong[0] += 1

    response = flow.answer(issued, nonces=wrong)

    assert response.status_code == 422
    assert response.get_json()["error"] == "wrong-answer"
    assert flow.answer(issued, nonces=nonces).status_code == 200


def test_wrong_nonce_count_is_wrong_answer(flow):
    issued = flow.issue().get_json()
    nonces = solve_challenge(issued["challenge"])[:-1]

    response = flow.answer(issued, nonces=nonces)

    assert response.status_code == 422
    assert response.get_json()["error"] == "wrong-answer"


def test_answer_twice_is_rejected(flow):
    issued = flow.issue().get_json()
    nonces = solve_challenge(issued["challenge"])

    assert flow.answer(issued, nonces=nonces).status_code == 200
    second = flow.answer(issued, nonces=nonces)

    assert second.status_code == 409
    assert second.get_json()["error"] == "already-answered"


def test_answer_after_expiry_is_rejected(flow, clock):
    issued = flow.issue().get_json()
    nonces = solve_challenge(issued["challenge"])
    clock.advance(300)

    response = flow.answer(issued, nonces=nonces)

    assert response.status_code == 410
    assert response.get_json()["error"] == "expired"


def test_answer_just_before_expiry_passes(flow, clock):
    issued = flow.issue().get_json()
    nonces = solve_challenge(issued["challenge"])
    clock.advance(299)

    assert flow.answer(issued, nonces=nonces).status_code == 200


def test_answer_from_other_origin_is_rejected(flow):
    issued = flow.issue(origin="https://portal.example.fr").get_json()

    response = flow.answer(issued, origin=ORIGIN)

    assert response.status_code == 403
    assert response.get_json()["error"] == "origin-not-allowed"


def test_answer_with_other_challenge_id_is_rejected(flow):
    first = flow.issue().get_json()
    second = flow.issue().get_json()
    mixed = dict(first, challenge_id=second["challenge_id"])

    response = flow.answer(mixed, nonces=solve_challenge(first["challenge"]))

    assert response.status_code == 404
    assert response.get_json()["error"] == "unknown-challenge"


def _rewrite_payload(envelope: str, change) -> str:
    payload, signature = envelope.rsplit(".", 1)
    padded = payload + "=" * (-len(payload) % 4)
    data = json.loads(base64.urlsafe_b64decode(padded))
    change(data)
    text = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=") + "." + signature


def _splice_salt(data):
    # Move part of the salt into the action, as a splicing attack would.
    data["action"] = data["action"] + data["challenge"]["salt"][:4]
    data["challenge"]["salt"] = data["challenge"]["salt"][4:]


@pytest.mark.parametrize(
    "change",
    [
        _splice_salt,
        lambda data: data.update(exp=data["exp"] + 3600),
        lambda data: data["challenge"].update(bits=1),
        lambda data: data.update(level=4),
    ],
)
def test_rewritten_envelope_is_rejected(flow, change):
    issued = flow.issue().get_json()
    nonces = solve_challenge(issued["challenge"])
    forged = dict(issued, envelope=_rewrite_payload(issued["envelope"], change))

    response = flow.answer(forged, nonces=nonces)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid-envelope"


def test_envelope_of_another_site_gives_no_token(client, flow, other_site):
    from tests.conftest import Flow

    rink = Flow(client, *other_site)
    issued = rink.issue(origin="https://rink.example.fr").get_json()

    # The pool's origin cannot answer the rink's challenge.
    response = flow.answer(issued)

    assert response.status_code == 403


def _bad_bodies(issued):
    envelope = issued["envelope"]
    return [
        ({"envelope": envelope}, "answer"),
        ({"answer": {"nonces": []}}, "envelope"),
        ({"envelope": 5, "answer": {"nonces": []}}, "envelope"),
        ({"envelope": "x" * 3000, "answer": {"nonces": []}}, "envelope"),
        ({"envelope": envelope, "answer": []}, "answer"),
        ({"envelope": envelope, "answer": {"nonces": "1,2"}}, "answer.nonces"),
        ({"envelope": envelope, "answer": {"nonces": [1] * (MAX_PUZZLES + 1)}}, "answer.nonces"),
        ({"envelope": envelope, "answer": {"nonces": [MAX_NONCE]}}, "answer.nonces"),
        ({"envelope": envelope, "answer": {"nonces": [10**400]}}, "answer.nonces"),
        ({"envelope": envelope, "answer": {"nonces": [-1]}}, "answer.nonces"),
        ({"envelope": envelope, "answer": {"nonces": [True]}}, "answer.nonces"),
        ({"envelope": envelope, "answer": {"nonces": [1.5]}}, "answer.nonces"),
        ({"envelope": envelope, "answer": {"nonces": ["1"]}}, "answer.nonces"),
        (
            {"envelope": envelope, "answer": {"nonces": []}, "client": "fast"},
            "client",
        ),
        (
            {
                "envelope": envelope,
                "answer": {"nonces": []},
                "client": {"hash_rate": -1},
            },
            "client.hash_rate",
        ),
    ]


def test_bad_answer_bodies_change_nothing(app, flow):
    issued = flow.issue().get_json()
    before = stored_rows(app)

    for body, field in _bad_bodies(issued):
        response = flow.client.post(
            f"/api/v1/challenges/{issued['challenge_id']}/answer",
            json=body,
            headers={"Origin": ORIGIN},
        )

        assert response.status_code == 400, body
        assert response.get_json()["error"] == "invalid-request", body
        assert response.get_json()["field"] == field, body
        assert field.split(".")[0] in response.get_json()["message"], body

    assert stored_rows(app) == before
    assert flow.answer(issued).status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"action": "book"}, "sitekey"),
        ({"sitekey": 42, "action": "book"}, "sitekey"),
        ({"sitekey": "s" * 65, "action": "book"}, "sitekey"),
        ({"sitekey": "SITE"}, "action"),
        ({"sitekey": "SITE", "action": "book now"}, "action"),
        ({"sitekey": "SITE", "action": "a" * 33}, "action"),
        ({"sitekey": "SITE", "action": ["book"]}, "action"),
        ({"sitekey": "SITE", "action": "book", "lang": "de"}, "lang"),
        ({"sitekey": "SITE", "action": "book", "lang": 1}, "lang"),
    ],
)
def test_bad_issue_bodies_are_rejected(client, site, body, field):
    body = {
        key: site[0].sitekey if value == "SITE" else value
        for key, value in body.items()
    }

    response = client.post("/api/v1/challenges", json=body, headers={"Origin": ORIGIN})

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid-request"
    assert response.get_json()["field"] == field


@pytest.mark.parametrize(
    ("data", "content_type", "status", "code"),
    [
        ("{not json", "application/json", 400, "invalid-request"),
        ("[1, 2]", "application/json", 400, "invalid-request"),
        ("\xff\xfe", "application/json", 400, "invalid-request"),
        (
            "sitekey=x",
            "application/x-www-form-urlencoded",
            415,
            "unsupported-media-type",
        ),
        ("{}", "text/plain", 415, "unsupported-media-type"),
        ("{" + " " * 20000 + "}", "application/json", 413, "payload-too-large"),
    ],
)
def test_malformed_bodies_get_json_errors(client, data, content_type, status, code):
    response = client.post(
        "/api/v1/challenges",
        data=data,
        content_type=content_type,
        headers={"Origin": ORIGIN},
    )

    assert response.status_code == status
    assert response.is_json
    assert response.get_json()["error"] == code


@pytest.mark.parametrize(
    "challenge_id", ["short", "a" * 23, "../../etc", "a" * 21 + "!"]
)
def test_malformed_challenge_id_is_unknown(flow, challenge_id):
    issued = flow.issue().get_json()
    response = flow.answer(dict(issued, challenge_id=challenge_id))

    assert response.status_code == 404
    assert response.get_json()["error"] in {"unknown-challenge", "not-found"}


def test_wrong_method_gets_json_error(client):
    response = client.get("/api/v1/challenges")

    assert response.status_code == 405
    assert response.get_json()["error"] == "method-not-allowed"


def test_unknown_path_gets_json_error(client):
    response = client.get("/api/v1/nothing")

    assert response.status_code == 404
    assert response.get_json()["error"] == "not-found"


def test_expires_in_counts_whole_seconds_left(flow, clock):
    clock.advance(0.7)

    issued = flow.issue().get_json()
    answered = flow.answer(issued, solve_seconds=0.2).get_json()

    assert issued["expires_in"] == 299
    assert answered["expires_in"] == 299


@pytest.mark.parametrize(
    "path", ["/widget/v1//etc/passwd", "/static//x", "/api/v1//challenges"]
)
def test_double_slash_path_is_not_redirected(client, path):
    response = client.get(path, headers={"Host": "evil.example"})

    assert response.status_code in (404, 405)
    assert "Location" not in response.headers
    assert response.is_json


def test_wrong_method_error_is_readable_cross_origin(client):
    response = client.get("/api/v1/challenges", headers={"Origin": ORIGIN})

    assert response.status_code == 405
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


def test_log_names_route_not_path(client, caplog):
    import logging

    caplog.set_level(logging.INFO)
    response = client.get("/api/v1/challenges/secret_PASTED_HERE/image?m=x")

    assert response.status_code == 404
    assert "/api/v1/challenges/<challenge_id>/image" in caplog.text
    assert "secret_PASTED_HERE" not in caplog.text
