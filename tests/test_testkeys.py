"""The published test keys work from any page and answer as documented."""

from __future__ import annotations

import pytest

from challenge_service import create_app
from challenge_service import testkeys
from conftest import Flow
from conftest import SIGNING_KEY
from test_escalation import _pass

FOREIGN_ORIGIN = "https://integrator.example.net"


@pytest.fixture
def test_flow(client, clock):
    def make(test_site):
        store = client.application.extensions["challenge_service"].store
        site = store.site_by_sitekey(test_site.sitekey)
        return Flow(client, site, test_site.secret, clock=clock)

    return make


@pytest.mark.parametrize("response", ["anything", "x" * 300])
def test_always_pass_secret_accepts_any_response(flow, response):
    result = flow.verify(response, secret=testkeys.ALWAYS_PASS_SECRET)

    assert result["success"] is True
    assert result["error-codes"] == []


def test_always_fail_secret_rejects_any_response(flow):
    token = flow.pass_token()

    result = flow.verify(token, secret=testkeys.ALWAYS_FAIL_SECRET)

    assert result["success"] is False
    assert result["error-codes"] == ["invalid-input-response"]


def test_always_pass_sitekey_works_from_any_origin(test_flow):
    flow = test_flow(testkeys.ALWAYS_PASS)
    issued = flow.issue(origin=FOREIGN_ORIGIN).get_json()

    assert issued["level"] == 0
    response = flow.answer(issued, origin=FOREIGN_ORIGIN)
    assert response.status_code == 200
    assert flow.verify(response.get_json()["pass_token"])["success"] is True


def test_always_fail_sitekey_rejects_answers(test_flow):
    flow = test_flow(testkeys.ALWAYS_FAIL)
    issued = flow.issue(origin=FOREIGN_ORIGIN).get_json()

    response = flow.answer(issued, origin=FOREIGN_ORIGIN)

    assert response.status_code == 422
    assert response.get_json()["error"] == "wrong-answer"


def test_image_sitekey_always_asks_for_image(test_flow, clock):
    flow = test_flow(testkeys.IMAGE)
    issued = flow.issue(origin=FOREIGN_ORIGIN).get_json()

    assert issued["level"] == 3
    following = flow.answer(issued, origin=FOREIGN_ORIGIN).get_json()
    assert following["challenge"]["kind"] == "image"
    assert following["challenge"]["audio_url"].startswith(
        f"/api/v1/challenges/{following['challenge_id']}/audio?m="
    )


def test_image_test_site_tokens_verify(test_flow, clock):
    flow = test_flow(testkeys.IMAGE)
    final = _pass(flow, clock, flow.issue().get_json())

    result = flow.verify(final["pass_token"])

    assert result["success"] is True
    assert result["kinds"] == ["pow", "image"]


def test_test_key_tokens_fail_with_portal_secret(flow, test_flow):
    token = test_flow(testkeys.ALWAYS_PASS).pass_token()

    assert flow.verify(token)["error-codes"] == ["invalid-input-response"]


def test_test_keys_can_be_turned_off(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "DATA_DIR": str(tmp_path),
            "SIGNING_KEYS": [SIGNING_KEY],
            "TEST_KEYS": False,
        }
    )
    store = app.extensions["challenge_service"].store
    client = app.test_client()

    response = client.post(
        "/api/v1/siteverify",
        data={"secret": testkeys.ALWAYS_PASS_SECRET, "response": "anything"},
    )

    assert store.site_by_sitekey(testkeys.ALWAYS_PASS.sitekey) is None
    assert response.get_json()["error-codes"] == ["invalid-input-secret"]
