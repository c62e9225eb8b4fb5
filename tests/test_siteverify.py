"""The portal-facing verify endpoint."""

from __future__ import annotations

import re

import pytest

from challenge_service.sites import rotate_secret
from tests.conftest import Flow
from tests.helpers import stored_rows

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_valid_token_verifies(flow):
    result = flow.verify(flow.pass_token())

    assert result["success"] is True
    assert result["error-codes"] == []
    assert result["hostname"] == "localhost"
    assert result["action"] == "book"
    assert result["level"] == 0
    assert result["kinds"] == ["pow"]
    assert ISO_UTC.match(result["challenge_ts"])


def test_token_verifies_once(flow):
    token = flow.pass_token()

    assert flow.verify(token)["success"] is True
    second = flow.verify(token)

    assert second["success"] is False
    assert second["error-codes"] == ["timeout-or-duplicate", "already-seen-response"]


def test_expired_token_is_told_apart(flow, clock):
    token = flow.pass_token()
    clock.advance(301)

    result = flow.verify(token)

    assert result["success"] is False
    assert result["error-codes"] == ["timeout-or-duplicate", "expired-input-response"]


def test_token_of_other_action_names_its_action(flow):
    result = flow.verify(flow.pass_token(action="login"))

    assert result["success"] is True
    assert result["action"] == "login"


def test_token_of_other_site_fails_and_stays_valid(client, flow, other_site):
    token = flow.pass_token()
    rink = Flow(client, *other_site)

    result = rink.verify(token)

    assert result["success"] is False
    assert result["error-codes"] == ["invalid-input-response"]
    assert flow.verify(token)["success"] is True


def test_wrong_secret_is_rejected(flow):
    result = flow.verify(flow.pass_token(), secret="secret_wrong")

    assert result["error-codes"] == ["invalid-input-secret"]


def test_missing_inputs_are_listed(client):
    result = client.post("/api/v1/siteverify", data={}).get_json()

    assert result["success"] is False
    assert result["error-codes"] == ["missing-input-secret", "missing-input-response"]


def test_sitekey_must_match_secret(flow, other_site):
    result = flow.verify(flow.pass_token(), sitekey=other_site[0].sitekey)

    assert result["error-codes"] == ["sitekey-secret-mismatch"]


def test_matching_sitekey_passes(flow):
    result = flow.verify(flow.pass_token(), sitekey=flow.site.sitekey)

    assert result["success"] is True


def test_json_body_is_accepted(client, flow):
    token = flow.pass_token()
    response = client.post(
        "/api/v1/siteverify", json={"secret": flow.secret, "response": token}
    )

    assert response.status_code == 200
    assert response.get_json()["success"] is True


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t[:-2] + "xx",
        lambda t: t.split(".")[0],
        lambda t: "not-a-token",
        lambda t: t[:40],
    ],
)
def test_tampered_token_is_invalid(flow, mangle):
    token = flow.pass_token()

    result = flow.verify(mangle(token))

    assert result["error-codes"] == ["invalid-input-response"]
    assert flow.verify(token)["success"] is True


def test_envelope_is_not_a_token(flow):
    issued = flow.issue().get_json()

    result = flow.verify(issued["envelope"])

    assert result["error-codes"] == ["invalid-input-response"]


def test_idempotent_retry_returns_same_answer(flow):
    token = flow.pass_token()
    first = flow.verify(token, idempotency_key="4f7c3c9e-3b1a-4a51-9d3e-0d1f2a3b4c5d")
    retry = flow.verify(token, idempotency_key="4f7c3c9e-3b1a-4a51-9d3e-0d1f2a3b4c5d")

    assert first["success"] is True
    assert retry == first


def test_other_idempotency_key_is_duplicate(flow):
    token = flow.pass_token()

    assert flow.verify(token, idempotency_key="first-key")["success"] is True
    result = flow.verify(token, idempotency_key="second-key")

    assert result["error-codes"] == ["timeout-or-duplicate", "already-seen-response"]


def test_retry_without_key_after_keyed_success_is_duplicate(flow):
    token = flow.pass_token()

    assert flow.verify(token, idempotency_key="key-1")["success"] is True
    assert flow.verify(token)["success"] is False


@pytest.mark.parametrize(
    ("fields", "code", "word"),
    [
        ({"idempotency_key": "has spaces"}, "bad-request", "idempotency_key"),
        ({"idempotency_key": "k" * 65}, "bad-request", "idempotency_key"),
        ({"remoteip": "999.1.1.1"}, "invalid-remoteip", "remoteip"),
        ({"secret": "s" * 129}, "bad-request", "secret"),
        ({"response": "r" * 2049}, "bad-request", "response"),
    ],
)
def test_bad_fields_change_nothing(app, flow, fields, code, word):
    token = flow.pass_token()
    before = stored_rows(app)

    result = flow.verify(token, **fields)

    assert result["success"] is False
    assert result["error-codes"] == [code]
    assert word in result["message"]
    assert stored_rows(app) == before
    assert flow.verify(token)["success"] is True


def test_remoteip_is_accepted(flow):
    result = flow.verify(flow.pass_token(), remoteip="2001:db8::1")

    assert result["success"] is True


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("{broken", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"secret": 1, "response": "x"}', "secret must be a UTF-8 string"),
    ],
)
def test_bad_json_is_bad_request(client, data, message):
    response = client.post(
        "/api/v1/siteverify", data=data, content_type="application/json"
    )

    assert response.status_code == 200
    assert response.get_json()["error-codes"] == ["bad-request"]
    assert message in response.get_json()["message"]


def test_oversized_body_keeps_siteverify_shape(client):
    response = client.post("/api/v1/siteverify", data={"secret": "s" * 20000})

    assert response.status_code == 413
    assert response.get_json()["success"] is False
    assert response.get_json()["error-codes"] == ["bad-request"]


def test_rotated_secret_keeps_working_during_grace(flow, store, clock):
    token = flow.pass_token()
    old_secret = flow.secret
    _, new_secret = rotate_secret(store, flow.site.sitekey, clock(), grace=60)

    assert flow.verify(flow.pass_token(), secret=new_secret)["success"] is True
    assert flow.verify(token, secret=old_secret)["success"] is True


def test_rotated_secret_stops_after_grace(flow, store, clock):
    old_secret = flow.secret
    rotate_secret(store, flow.site.sitekey, clock(), grace=60)
    clock.advance(61)

    result = flow.verify(flow.pass_token(), secret=old_secret)

    assert result["error-codes"] == ["invalid-input-secret"]


def test_pass_token_carries_no_personal_data(flow):
    import base64
    import json

    token = flow.pass_token()
    payload = token.split(".")[0]
    data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))

    assert set(data) == {
        "jti",
        "site",
        "action",
        "host",
        "level",
        "kinds",
        "reasons",
        "rt",
        "iat",
        "exp",
    }
    assert data["rt"] is False


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: t + "!!!!",
        lambda t: t[:-3] + "é" + t[-3:],
        lambda t: t[:10] + "=" + t[10:],
        lambda t: t[:-1] + {"A": "B", "B": "C"}.get(t[-1], "A"),
    ],
)
def test_variant_spellings_of_token_fail(flow, mangle):
    token = flow.pass_token()

    assert flow.verify(mangle(token))["error-codes"] == ["invalid-input-response"]


def test_token_of_same_row_id_in_other_store_fails(tmp_path, flow):
    from challenge_service import create_app
    from challenge_service.sites import create_site
    from tests.conftest import SIGNING_KEY

    other = create_app(
        {"DATA_DIR": str(tmp_path / "other"), "SIGNING_KEYS": [SIGNING_KEY]}
    )
    other_store = other.extensions["challenge_service"].store
    other_site, other_secret = create_site(other_store, "Pool", ["localhost"], 0)
    token = flow.pass_token()
    fields = {"secret": other_secret, "response": token}

    result = other.test_client().post("/api/v1/siteverify", data=fields).get_json()

    assert other_site.id == flow.site.id
    assert result["error-codes"] == ["invalid-input-response"]


@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_unknown_body_format_is_bad_request(client, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(
        "/api/v1/siteverify", data=b"secret=x&response=y", headers=headers
    )

    assert response.get_json()["error-codes"] == ["bad-request"]
    assert "Content-Type" in response.get_json()["message"]


def _post_raw(client, body: bytes, content_type: str | None, chunked: bool = False):
    """POST ``body`` to verify, with a Content-Length or in chunks without one."""
    import io

    environ = {"wsgi.input": io.BytesIO(body)}

    if content_type is not None:
        environ["CONTENT_TYPE"] = content_type

    if not chunked:
        environ["CONTENT_LENGTH"] = str(len(body))

    return client.post("/api/v1/siteverify", environ_overrides=environ)


FORM = "application/x-www-form-urlencoded"

# The same fields twice: first with a Content-Type and a Content-Length that
# the service handles without Flask, then in a form that only the Flask view
# takes: a chunked body, or a JSON media type with a "+json" suffix.
BOTH_PATHS = [
    ("form", FORM, FORM, True),
    ("form", FORM + "; charset=utf-8", FORM + "; charset=utf-8", True),
    ("json", "application/json", "application/vnd.portal+json", False),
]


def _encode(kind: str, fields: dict[str, str]) -> bytes:
    import json
    from urllib.parse import urlencode

    return (json.dumps(fields) if kind == "json" else urlencode(fields)).encode()


def _without_time(result: dict) -> dict:
    return {name: value for name, value in result.items() if name != "challenge_ts"}


@pytest.mark.parametrize(("kind", "fast_type", "view_type", "chunked"), BOTH_PATHS)
def test_both_paths_respond_alike(flow, kind, fast_type, view_type, chunked):
    answers = []

    for content_type, is_chunked in [(fast_type, False), (view_type, chunked)]:
        fields = {"secret": flow.secret, "response": flow.pass_token()}
        bodies = [
            _encode(kind, fields),
            _encode(kind, fields),
            _encode(kind, {**fields, "remoteip": "not an address"}),
        ]
        responses = [
            _post_raw(flow.client, body, content_type, is_chunked) for body in bodies
        ]
        answers.append(
            [
                (
                    response.status_code,
                    response.headers["Content-Type"],
                    response.headers["Cache-Control"],
                    _without_time(response.get_json()),
                )
                for response in responses
            ]
        )

    fast, view = answers
    assert fast == view
    assert fast[0][3]["success"] is True
    assert fast[1][3]["error-codes"] == ["timeout-or-duplicate", "already-seen-response"]
    assert fast[2][3]["error-codes"] == ["invalid-remoteip"]


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [("form", FORM), ("json", "application/json"), ("json", "application/ld+json")],
)
def test_body_shorter_than_length_is_rejected(flow, kind, content_type):
    import io

    token = flow.pass_token()
    body = _encode(kind, {"secret": flow.secret, "response": token})
    response = flow.client.post(
        "/api/v1/siteverify",
        environ_overrides={
            "wsgi.input": io.BytesIO(body),
            "CONTENT_TYPE": content_type,
            "CONTENT_LENGTH": str(len(body) + 10),
        },
    )

    assert response.status_code == 200
    assert response.get_json()["error-codes"] == ["bad-request"]
    assert "Content-Length" in response.get_json()["message"]
    assert flow.verify(token)["success"] is True


@pytest.mark.parametrize("length", ["+12", " 12", "1_2", "\u00b9\u00b2", "-1", ""])
def test_odd_content_length_goes_to_flask(client, length):
    import io

    response = client.post(
        "/api/v1/siteverify",
        environ_overrides={
            "wsgi.input": io.BytesIO(b"secret=x&response=y"),
            "CONTENT_TYPE": FORM,
            "CONTENT_LENGTH": length,
        },
    )

    assert response.status_code in (200, 400)
    assert response.get_json()["success"] is False


def test_unexpected_error_keeps_siteverify_shape(app, flow, monkeypatch, caplog):
    service = app.extensions["challenge_service"]
    token = flow.pass_token()

    def fail(fields):
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(service, "verify", fail)
    response = _post_raw(
        flow.client, _encode("form", {"secret": flow.secret, "response": token}), FORM
    )

    assert response.status_code == 500
    assert response.get_json()["error-codes"] == ["internal-error"]
    assert "error id" in response.get_json()["message"]
    assert "simulated bug" in caplog.text
    assert "simulated bug" not in response.get_data(as_text=True)


def test_verify_starts_purge_thread(tmp_path, flow):
    import threading

    from challenge_service import create_app
    from tests.conftest import SIGNING_KEY

    app = create_app(
        {
            "DATA_DIR": str(tmp_path / "purge"),
            "SIGNING_KEYS": [SIGNING_KEY],
            "PURGE_INTERVAL": 3600,
        }
    )
    purge_threads = [t for t in threading.enumerate() if t.name == "purge"]
    response = _post_raw(app.test_client(), b"secret=x&response=y", FORM)

    assert response.get_json()["error-codes"] == ["invalid-input-secret"]
    started = [t for t in threading.enumerate() if t.name == "purge"]
    assert len(started) == len(purge_threads) + 1


@pytest.mark.parametrize("content_type", ["application/json", "application/ld+json"])
def test_success_field_in_body_is_ignored(client, content_type):
    body = b'{"success": true, "error-codes": [], "secret": "x"}'
    response = _post_raw(client, body, content_type)

    assert response.get_json()["success"] is False
    assert response.get_json()["error-codes"] == ["missing-input-response"]


@pytest.mark.parametrize(
    "body",
    [b"secret=%ff%fe&response=x", b"secret=\xff&response=x", b"secret=%ED%A0%80&response=x"],
)
def test_form_not_utf8_is_bad_request(client, body):
    response = _post_raw(client, body, FORM)

    assert response.get_json()["error-codes"] == ["bad-request"]
    assert "UTF-8" in response.get_json()["message"]


def test_malformed_multipart_is_bad_request(client):
    response = _post_raw(
        client,
        b"--nothing here\r\nsecret=x\r\n",
        "multipart/form-data; boundary=other",
    )

    assert response.get_json()["error-codes"] == ["bad-request"]
    assert "multipart" in response.get_json()["message"]


def _multipart(fields: dict[str, bytes]) -> bytes:
    parts = [
        b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n'
        % (name.encode(), value)
        for name, value in fields.items()
    ]
    return b"".join(parts) + b"--B--\r\n"


def test_short_multipart_does_not_spend_token(flow):
    import io

    token = flow.pass_token()
    body = _multipart({"secret": flow.secret.encode(), "response": token.encode()})
    response = flow.client.post(
        "/api/v1/siteverify",
        environ_overrides={
            "wsgi.input": io.BytesIO(body),
            "CONTENT_TYPE": "multipart/form-data; boundary=B",
            "CONTENT_LENGTH": str(len(body) + 20),
        },
    )

    assert response.get_json()["error-codes"] == ["bad-request"]
    assert "Content-Length" in response.get_json()["message"]
    assert flow.verify(token)["success"] is True


@pytest.mark.parametrize("value", [b"\xff", b"\xed\xa0\x80"])
def test_multipart_not_utf8_is_bad_request(flow, value):
    body = _multipart({"secret": value, "response": flow.pass_token().encode()})
    response = _post_raw(flow.client, body, "multipart/form-data; boundary=B")

    assert response.get_json()["error-codes"] == ["bad-request"]
    assert "UTF-8" in response.get_json()["message"]
