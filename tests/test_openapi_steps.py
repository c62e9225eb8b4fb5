"""Contract tests of flows in several steps: timing, image, replace and media.

A site's policy floor sets the level: level 2 is a proof of work then a press
and hold, level 3 a proof of work then an image. Every response these tests
receive is checked against ``openapi.yaml`` with openapi-core, like the
exchanges in ``test_openapi.py``.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs
from urllib.parse import urlsplit

import pytest

from challenge_service import config
from challenge_service.api import media as media_api
from challenge_service.challenges import proof_of_work
from challenge_service.challenges.image import MAX_ANSWER_LENGTH
from challenge_service.challenges import timing
from challenge_service.media import audio
from challenge_service.media import image as drawing
from challenge_service.service import MAX_ATTEMPTS
from conftest import epoch_wording
from conftest import ORIGIN
from openapi_contract import answer_step
from openapi_contract import assert_error
from openapi_contract import break_store
from openapi_contract import challenge_secret
from openapi_contract import CHALLENGES
from openapi_contract import Contract
from openapi_contract import FOREIGN_ORIGIN
from openapi_contract import image_answer
from openapi_contract import isoformat
from openapi_contract import JSON
from openapi_contract import level_flow
from openapi_contract import load_document
from openapi_contract import pass_all_steps
from openapi_contract import post_answer
from openapi_contract import post_body
from openapi_contract import post_replace
from openapi_contract import UNUSED_CHALLENGE_ID

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def contract() -> Contract:
    return Contract(load_document())


@pytest.fixture
def service(app):
    return app.extensions["challenge_service"]


#: Policy fields that keep the proof of work at level 0, the cheapest to solve
#: in tests, without the wait that a cap adds to the higher levels.
CHEAP_POW = {"max_pow_level": 0, "wait_per_level_ms": 0}


@pytest.fixture
def level2(client, store, clock):
    """Return a flow whose challenges are a proof of work, then a hold."""
    return level_flow(client, store, clock, 2, **CHEAP_POW)


@pytest.fixture
def level3(client, store, clock):
    """Return a flow whose challenges are a proof of work, then an image."""
    return level_flow(client, store, clock, 3, **CHEAP_POW)


def second_step(flow, contract) -> dict:
    """Issue a challenge, answer its proof of work, and return the next step."""
    issued = flow.issue()
    assert issued.status_code == 201, issued.get_data(as_text=True)
    contract.check(issued)
    response = flow.answer(issued.get_json())
    assert response.status_code == 200, response.get_data(as_text=True)
    contract.check(response)
    body = response.get_json()
    assert body["result"] == "next", body
    return body


@pytest.fixture
def hold(level2, contract) -> dict:
    """Return the hold step of a level-2 flow, just issued."""
    return second_step(level2, contract)


@pytest.fixture
def image(level3, contract) -> dict:
    """Return the image step of a level-3 flow, just issued."""
    return second_step(level3, contract)


def media_url(step: dict, kind: str, lang: str = "fr") -> str:
    """Return the image URL of ``step`` as given, or its audio URL with ``lang``."""
    url = step["challenge"][f"{kind}_url"]
    return url if kind == "image" else media_path(url, lang=lang)


def media_path(url: str, **query: str) -> str:
    """Return a media URL of a challenge with ``query`` added or replaced."""
    parts = urlsplit(url)
    values = {name: items[0] for name, items in parse_qs(parts.query).items()}
    values.update(query)
    encoded = "&".join(f"{name}={value}" for name, value in values.items())
    return f"{parts.path}?{encoded}"


# Level 2: a proof of work, then a press and hold


def test_level_two_first_step(client, store, service, contract, clock):
    flow = level_flow(client, store, clock, 2)
    response = flow.issue()

    assert response.status_code == 201, response.get_data(as_text=True)
    contract.check(response)
    body = response.get_json()
    variants = proof_of_work.ProofOfWork.variants
    variant = variants[service.rotation.select("pow", len(variants), clock.now).variant]
    bits, puzzles, _ = proof_of_work.cost(2, variant)
    assert body["level"] == 2
    assert (body["step"], body["steps"]) == (1, 2)
    assert body["challenge"]["kind"] == "pow"
    assert body["challenge"]["bits"] == bits
    assert body["challenge"]["puzzles"] == puzzles


def test_answer_returns_next_step(level2, service, contract, clock):
    issued = level2.issue().get_json()
    response = level2.answer(issued)

    assert response.status_code == 200, response.get_data(as_text=True)
    contract.check(response)
    body = response.get_json()
    challenge = body["challenge"]
    variants = timing.Timing.variants
    variant = variants[service.rotation.select("timing", len(variants), clock.now).variant]
    low, high = timing.VARIANTS[variant]
    assert body["result"] == "next"
    assert "pass_token" not in body
    assert body["level"] == 2
    assert (body["step"], body["steps"]) == (2, 2)
    assert body["challenge_id"] != issued["challenge_id"]
    assert body["envelope"] != issued["envelope"]
    # The step is issued 0.4 s after the first one and lives CHALLENGE_TTL
    # seconds from the whole second of its issue.
    expires_at = int(clock.now) + config.DEFAULTS["CHALLENGE_TTL"]
    assert body["expires_at"] == isoformat(expires_at)
    assert body["expires_in"] == int(expires_at - clock.now)
    assert challenge["kind"] == "timing"
    assert challenge["mode"] == "hold"
    assert low <= challenge["hold_ms"] <= high
    assert challenge["alternatives"] == [{"kind": "timing", "mode": "wait"}]
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN


@pytest.mark.parametrize(
    "early_ms", [None, 1], ids=["at-once", "one-ms-early"]
)
def test_hold_answered_too_early(client, hold, contract, clock, early_ms):
    hold_ms = hold["challenge"]["hold_ms"]

    if early_ms is not None:
        clock.advance((hold_ms - early_ms) / 1000)

    answer = {"held_ms": hold_ms, "input": "pointer"}
    response = post_answer(client, hold, answer)

    assert_error(response, 422, "too-early", "answer", mentions="not before")
    contract.check(response)
    body = response.get_json()
    wait_ms = hold_ms if early_ms is None else early_ms
    assert body["retry_after_ms"] == wait_ms
    assert response.headers["Retry-After"] == str(math.ceil(wait_ms / 1000))
    assert response.headers["Access-Control-Expose-Headers"] == "Retry-After"
    assert "attempts_left" not in body


def test_hold_answer_after_too_early(client, level2, hold, contract, clock):
    answer = {"held_ms": hold["challenge"]["hold_ms"], "input": "touch"}
    early = post_answer(client, hold, answer)
    clock.advance(early.get_json()["retry_after_ms"] / 1000)
    response = post_answer(client, hold, answer)

    assert_error(early, 422, "too-early", "answer")
    contract.check(early)
    assert response.status_code == 200, response.get_data(as_text=True)
    contract.check(response)
    assert response.get_json()["result"] == "pass"


@pytest.mark.parametrize("source", ["pointer", "touch", "key", None])
def test_hold_answer_passes(client, level2, hold, contract, clock, source):
    hold_ms = hold["challenge"]["hold_ms"]
    clock.advance(hold_ms / 1000)
    response = post_answer(client, hold, {"held_ms": hold_ms, "input": source})

    assert response.status_code == 200, response.get_data(as_text=True)
    contract.check(response)
    body = response.get_json()
    assert body["result"] == "pass"

    verified = level2.verify(body["pass_token"])
    assert verified["success"] is True
    assert verified["level"] == 2
    assert verified["kinds"] == ["pow", "timing"]
    assert verified["reasons"] == ["site-floor"]


@pytest.mark.parametrize(
    "answer",
    [
        lambda hold_ms: {"held_ms": hold_ms - 1, "input": "key"},
        lambda hold_ms: {"input": "key"},
        lambda hold_ms: {},
    ],
    ids=["released-1-ms-early", "held-ms-missing", "empty"],
)
def test_hold_released_early_is_wrong(client, hold, contract, clock, answer):
    hold_ms = hold["challenge"]["hold_ms"]
    clock.advance(hold_ms / 1000)
    response = post_answer(client, hold, answer(hold_ms))
    right = post_answer(client, hold, {"held_ms": hold_ms, "input": "key"})

    assert_error(response, 422, "wrong-answer", "answer")
    contract.check(response)
    assert "attempts_left" not in response.get_json()
    assert "next" not in response.get_json()
    # A wrong hold leaves the challenge open.
    assert right.status_code == 200, right.get_data(as_text=True)


@pytest.mark.parametrize(
    ("answer", "field", "request_valid"),
    [
        ({"held_ms": -1}, "answer.held_ms", False),
        ({"held_ms": 600_001}, "answer.held_ms", False),
        ({"held_ms": "2000"}, "answer.held_ms", False),
        ({"held_ms": True}, "answer.held_ms", False),
        ({"held_ms": 2000, "input": "mouse"}, "answer.input", False),
        ({"held_ms": 2000, "input": 1}, "answer.input", False),
        ([2000], "answer", False),
        ("2000", "answer", False),
        (None, "answer", False),
    ],
    ids=[
        "held-ms-negative",
        "held-ms-over-600000",
        "held-ms-string",
        "held-ms-boolean",
        "input-unknown",
        "input-number",
        "answer-list",
        "answer-string",
        "answer-null",
    ],
)
def test_hold_answer_rejects(client, hold, contract, answer, field, request_valid):
    response = post_answer(client, hold, answer)

    assert_error(response, 400, "invalid-request", field)
    contract.check(response, request_valid=request_valid)


def test_hold_answer_max_held_ms(client, hold, contract, clock):
    clock.advance(hold["challenge"]["hold_ms"] / 1000)
    response = post_answer(client, hold, {"held_ms": 600_000, "input": "key"})

    assert response.status_code == 200, response.get_data(as_text=True)
    contract.check(response)


def test_wait_step_above_pow_cap(client, store, contract, clock):
    flow = level_flow(client, store, clock, 2, max_pow_level=0, wait_per_level_ms=4000)
    response = flow.issue()
    assert response.status_code == 201, response.get_data(as_text=True)
    contract.check(response)
    bodies = [response.get_json()]

    while bodies[-1].get("result") != "pass":
        response = answer_step(flow, bodies[-1])
        assert response.status_code == 200, response.get_data(as_text=True)
        contract.check(response)
        bodies.append(response.get_json())

    steps = bodies[:-1]
    assert [step["challenge"]["kind"] for step in steps] == ["pow", "timing", "timing"]
    assert [step["challenge"].get("mode") for step in steps] == [None, "hold", "wait"]
    assert [(step["step"], step["steps"]) for step in steps] == [(1, 3), (2, 3), (3, 3)]
    # Two levels above the cap of 0, at 4000 ms each.
    assert steps[2]["challenge"]["wait_ms"] == 8000
    verified = flow.verify(bodies[-1]["pass_token"])
    assert verified["kinds"] == ["pow", "timing", "timing"]


# Replacing a step


def test_replace_keeps_planned_options(client, store, service, contract, clock):
    flow = level_flow(client, store, clock, 2, max_pow_level=0, wait_per_level_ms=4000)
    issued = flow.issue().get_json()
    fresh_pow = post_replace(client, issued, {"kind": "pow"})

    assert fresh_pow.status_code == 201, fresh_pow.get_data(as_text=True)
    contract.check(fresh_pow)
    variants = proof_of_work.ProofOfWork.variants
    variant = variants[service.rotation.select("pow", len(variants), clock.now).variant]
    bits, puzzles, _ = proof_of_work.cost(0, variant)
    assert fresh_pow.get_json()["challenge"]["bits"] == bits
    assert fresh_pow.get_json()["challenge"]["puzzles"] == puzzles

    hold = answer_step(flow, fresh_pow.get_json()).get_json()
    wait = answer_step(flow, hold).get_json()
    fresh_wait = post_replace(client, wait, {"kind": "timing", "mode": "wait"})

    assert wait["challenge"]["wait_ms"] == 8000
    assert fresh_wait.status_code == 201, fresh_wait.get_data(as_text=True)
    contract.check(fresh_wait)
    assert fresh_wait.get_json()["challenge"]["wait_ms"] == 8000
    assert (fresh_wait.get_json()["step"], fresh_wait.get_json()["steps"]) == (3, 3)


def test_replace_alternative_gets_level_default(client, hold, contract):
    wait = post_replace(client, hold, {"kind": "timing", "mode": "wait"}).get_json()
    again = post_replace(client, wait, {"kind": "timing", "mode": "wait"})

    assert again.status_code == 201, again.get_data(as_text=True)
    contract.check(again)
    assert again.get_json()["challenge"]["wait_ms"] == timing.WAIT_MS[2]


def test_replace_hold_with_wait(app, client, level2, hold, contract, clock):
    response = post_replace(client, hold, {"kind": "timing", "mode": "wait"})

    assert response.status_code == 201, response.get_data(as_text=True)
    contract.check(response)
    body = response.get_json()
    assert "result" not in body
    assert body["level"] == 2
    assert (body["step"], body["steps"]) == (2, 2)
    assert body["challenge_id"] != hold["challenge_id"]
    assert body["challenge"] == {
        "kind": "timing",
        "mode": "wait",
        "wait_ms": timing.WAIT_MS[2],
        "wording": epoch_wording(app, "timing", clock.now),
        "alternatives": [],
    }
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN

    # The wait counts from the replace, on the service's clock.
    early = post_answer(client, body, {})
    assert_error(early, 422, "too-early", "answer")
    contract.check(early)
    assert early.get_json()["retry_after_ms"] == timing.WAIT_MS[2]

    clock.advance(timing.WAIT_MS[2] / 1000)
    replaced = post_answer(
        client, hold, {"held_ms": hold["challenge"]["hold_ms"], "input": "key"}
    )
    passed = post_answer(client, body, {})

    assert_error(replaced, 409, "already-answered", "challenge_id")
    contract.check(replaced)
    assert passed.status_code == 200, passed.get_data(as_text=True)
    contract.check(passed)
    verified = level2.verify(passed.get_json()["pass_token"])
    assert verified["kinds"] == ["pow", "timing"]


@pytest.mark.parametrize(
    "alternative",
    [{"kind": "timing", "mode": "hold"}, {"kind": "timing", "mode": "wait"}],
    ids=["same-kind", "listed-alternative"],
)
def test_replace_hold(client, hold, contract, alternative):
    response = post_replace(client, hold, alternative)

    assert response.status_code == 201, response.get_data(as_text=True)
    contract.check(response)
    challenge = response.get_json()["challenge"]
    assert challenge["kind"] == alternative["kind"]
    assert challenge["mode"] == alternative["mode"]


def test_replace_proof_of_work_with_fresh_one(client, level2, contract):
    issued = level2.issue().get_json()
    response = post_replace(client, issued, {"kind": "pow"})

    assert response.status_code == 201, response.get_data(as_text=True)
    contract.check(response)
    body = response.get_json()
    assert (body["step"], body["steps"]) == (1, 2)
    assert body["challenge"]["kind"] == "pow"
    assert body["challenge"]["salt"] != issued["challenge"]["salt"]


def test_replace_twice(client, hold, contract):
    first = post_replace(client, hold, {"kind": "timing", "mode": "wait"})
    second = post_replace(client, hold, {"kind": "timing", "mode": "wait"})

    assert first.status_code == 201, first.get_data(as_text=True)
    assert_error(second, 409, "already-answered", "challenge_id", mentions="already")
    contract.check(second)


def test_replace_expired(client, hold, contract, clock):
    clock.advance(hold["expires_in"] + 1)
    response = post_replace(client, hold, {"kind": "timing", "mode": "wait"})

    assert_error(response, 410, "expired", "envelope", mentions="expired")
    contract.check(response)


def test_replace_store_unavailable(client, hold, store, contract):
    break_store(store)
    response = post_replace(client, hold, {"kind": "timing", "mode": "wait"})

    assert_error(response, 503, "store-unavailable", None)
    assert response.headers["Retry-After"] == "1"
    contract.check(response)


def test_replace_unexpected_error(client, hold, service, contract, monkeypatch):
    def fail(*args: Any) -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(service, "replace", fail)
    response = post_replace(client, hold, {"kind": "timing", "mode": "wait"})

    assert_error(response, 500, "internal-error", None, mentions="error id")
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    contract.check(response)


@dataclass(frozen=True)
class ReplaceRejection:
    """A replace request for the hold step, and the Error it must return."""

    body: Callable[[dict], Any]
    status: int
    error: str
    field: str | None
    request_valid: bool | None = False
    origin: str | None = ORIGIN
    content_type: str = JSON
    challenge_id: Callable[[dict], str] = lambda hold: hold["challenge_id"]


def replace_body(**fields: Any) -> Callable[[dict], dict]:
    """Return a builder of a valid replace body with ``fields`` changed.

    A field given as ``...`` is left out.
    """

    def build(hold: dict) -> dict:
        body = {
            "envelope": hold["envelope"],
            "alternative": {"kind": "timing", "mode": "wait"},
            **fields,
        }
        return {name: value for name, value in body.items() if value is not ...}

    return build


def invalid_alternative(alternative: Any, request_valid: bool = False) -> ReplaceRejection:
    return ReplaceRejection(
        replace_body(alternative=alternative),
        400,
        "invalid-request",
        "alternative",
        request_valid=request_valid,
    )


REPLACE_REJECTIONS = [
    pytest.param(
        ReplaceRejection(
            lambda hold: b'{"alternative": {"kind": "timing"}}',
            415,
            "unsupported-media-type",
            "Content-Type",
            content_type="text/plain",
        ),
        id="text-plain-body",
    ),
    pytest.param(
        ReplaceRejection(lambda hold: b"{", 400, "invalid-request", None),
        id="invalid-json",
    ),
    pytest.param(invalid_alternative(...), id="alternative-missing"),
    pytest.param(invalid_alternative(None), id="alternative-null"),
    pytest.param(invalid_alternative("wait"), id="alternative-string"),
    pytest.param(invalid_alternative({"mode": "wait"}), id="kind-missing"),
    pytest.param(invalid_alternative({"kind": 1}), id="kind-number"),
    pytest.param(invalid_alternative({"kind": "timing", "mode": None}), id="mode-null"),
    pytest.param(
        invalid_alternative({"kind": "timing", "mode": "wait", "wait_ms": 0}),
        id="extra-field",
    ),
    pytest.param(invalid_alternative({"kind": "captcha"}), id="kind-unknown"),
    pytest.param(
        invalid_alternative({"kind": "timing", "mode": "sleep"}), id="mode-unknown"
    ),
    pytest.param(
        # Both are documented values, but this challenge does not offer them.
        invalid_alternative({"kind": "image"}, request_valid=True),
        id="not-offered",
    ),
    pytest.param(
        invalid_alternative({"kind": "timing"}, request_valid=True),
        id="mode-omitted",
    ),
    pytest.param(
        ReplaceRejection(replace_body(envelope=...), 400, "invalid-request", "envelope"),
        id="envelope-missing",
    ),
    pytest.param(
        ReplaceRejection(
            replace_body(envelope="not-an-envelope"),
            400,
            "invalid-envelope",
            "envelope",
            request_valid=True,
        ),
        id="envelope-garbage",
    ),
    pytest.param(
        ReplaceRejection(
            replace_body(),
            404,
            "unknown-challenge",
            "challenge_id",
            challenge_id=lambda hold: "abc",
        ),
        id="challenge-id-too-short",
    ),
    pytest.param(
        ReplaceRejection(
            replace_body(),
            404,
            "unknown-challenge",
            "challenge_id",
            request_valid=True,
            challenge_id=lambda hold: UNUSED_CHALLENGE_ID,
        ),
        id="challenge-id-of-other-challenge",
    ),
    pytest.param(
        ReplaceRejection(
            replace_body(), 403, "origin-not-allowed", "Origin", origin=None
        ),
        id="origin-missing",
    ),
    pytest.param(
        ReplaceRejection(
            replace_body(),
            403,
            "origin-not-allowed",
            "Origin",
            request_valid=True,
            origin=FOREIGN_ORIGIN,
        ),
        id="origin-foreign",
    ),
    pytest.param(
        ReplaceRejection(
            replace_body(padding="x" * 17_000),
            413,
            "payload-too-large",
            None,
            request_valid=None,
        ),
        id="body-too-large",
    ),
]


@pytest.mark.parametrize("case", REPLACE_REJECTIONS)
def test_replace_rejects(client, hold, contract, case):
    path = f"{CHALLENGES}/{case.challenge_id(hold)}/replace"
    response = post_body(client, path, case.body(hold), case.origin, case.content_type)

    assert_error(response, case.status, case.error, case.field)
    contract.check(response, request_valid=case.request_valid)

    if case.origin is not None:
        assert response.headers["Access-Control-Allow-Origin"] == case.origin


# Level 3: a proof of work, then an image


def test_image_step_shape(image, contract):
    challenge = image["challenge"]
    base = f"{CHALLENGES}/{image['challenge_id']}"

    assert image["level"] == 3
    assert (image["step"], image["steps"]) == (2, 2)
    assert challenge["kind"] == "image"
    assert challenge["family"] in drawing.FAMILIES
    assert challenge["image_url"].startswith(f"{base}/image?m=")
    assert challenge["audio_url"].startswith(f"{base}/audio?m=")
    assert (challenge["width"], challenge["height"]) == (
        drawing.CSS_WIDTH,
        drawing.CSS_HEIGHT,
    )
    assert set(challenge["prompt"]) == {"fr", "en"}
    assert set(challenge["alt"]) == {"fr", "en"}
    assert challenge["alternatives"] == [
        {"kind": "image"},
        {"kind": "timing", "mode": "wait"},
    ]


@pytest.mark.parametrize(
    "typed",
    [
        lambda answer: answer,
        lambda answer: " ".join(answer).lower(),
    ],
    ids=["as-shown", "lower-case-spaced"],
)
def test_image_answer_passes(client, level3, image, contract, clock, typed):
    clock.advance(3)
    response = post_answer(client, image, {"text": typed(image_answer(image))})

    assert response.status_code == 200, response.get_data(as_text=True)
    contract.check(response)
    verified = level3.verify(response.get_json()["pass_token"])
    assert verified["level"] == 3
    assert verified["kinds"] == ["pow", "image"]


def test_image_answered_with_audio_digits(client, level3, image, contract, clock):
    _, secret = challenge_secret(image)
    clock.advance(3)
    response = post_answer(client, image, {"text": audio.digits(secret)})

    assert response.status_code == 200, response.get_data(as_text=True)
    contract.check(response)


def test_image_wrong_answers_move_to_wait(
    app, client, level3, image, contract, clock
):
    clock.advance(3)
    responses = [
        post_answer(client, image, {"text": "wrong"}) for _ in range(MAX_ATTEMPTS + 1)
    ]

    for response in responses[:MAX_ATTEMPTS]:
        assert_error(response, 422, "wrong-answer", "answer")
        contract.check(response)

    # The last attempt spent the image, so a further guess gets 409.
    assert_error(responses[-1], 409, "already-answered", "challenge_id")
    contract.check(responses[-1])

    bodies = [response.get_json() for response in responses[:MAX_ATTEMPTS]]
    assert [body["attempts_left"] for body in bodies] == [2, 1, 0]
    assert [("next" in body) for body in bodies] == [False, False, True]

    following = bodies[MAX_ATTEMPTS - 1]["next"]
    assert "result" not in following
    assert following["level"] == 3
    assert (following["step"], following["steps"]) == (2, 2)
    assert following["challenge"] == {
        "kind": "timing",
        "mode": "wait",
        "wait_ms": timing.WAIT_MS[3],
        "wording": epoch_wording(app, "timing", clock.now),
        "alternatives": [],
    }

    # The image is spent, so even its right answer is rejected now.
    late = post_answer(client, image, {"text": image_answer(image)})
    assert_error(late, 409, "already-answered", "challenge_id")

    passed = pass_all_steps(level3, following, contract)
    verified = level3.verify(passed["pass_token"])
    assert verified["kinds"] == ["pow", "timing"]


@pytest.mark.parametrize(
    ("answer", "field"),
    [
        ({"text": "x" * (MAX_ANSWER_LENGTH + 1)}, "answer.text"),
        ({"text": 5}, "answer.text"),
        ({"text": None}, "answer.text"),
        ({}, "answer.text"),
        ({"nonces": [1, 2]}, "answer.text"),
    ],
    ids=["text-too-long", "text-number", "text-null", "text-missing", "nonces"],
)
def test_image_answer_rejects(client, image, contract, answer, field):
    response = post_answer(client, image, answer)

    assert_error(response, 400, "invalid-request", field, mentions="text")
    # A timing challenge would accept each of these objects, and the document
    # cannot tell the kind from the envelope.
    contract.check(response, request_valid=True)


def test_image_text_at_max_length(client, image, contract, clock):
    clock.advance(3)
    response = post_answer(client, image, {"text": "x" * MAX_ANSWER_LENGTH})

    assert_error(response, 422, "wrong-answer", "answer")
    contract.check(response)


def test_replace_image_with_fresh_image(client, image, contract):
    response = post_replace(client, image, {"kind": "image"})

    assert response.status_code == 201, response.get_data(as_text=True)
    contract.check(response)
    body = response.get_json()
    assert body["challenge"]["kind"] == "image"
    assert body["challenge"]["image_url"] != image["challenge"]["image_url"]


def test_replace_image_with_wait(client, image, contract):
    response = post_replace(client, image, {"kind": "timing", "mode": "wait"})

    assert response.status_code == 201, response.get_data(as_text=True)
    contract.check(response)
    assert response.get_json()["challenge"]["wait_ms"] == timing.WAIT_MS[3]


# Media of an image challenge


def test_image_served(client, image, contract, clock):
    response = client.get(image["challenge"]["image_url"])

    assert response.status_code == 200, response.get_data(as_text=True)
    contract.check(response)
    png = response.get_data()
    width, height = struct.unpack(">II", png[16:24])
    # The clock has not moved since the step was issued, so the browser may
    # keep the image for the seconds left until the step expires.
    expires_at = int(clock.now) + config.DEFAULTS["CHALLENGE_TTL"]
    assert image["expires_at"] == isoformat(expires_at)
    max_age = math.floor(expires_at - clock.now)
    assert response.mimetype == "image/png"
    assert png.startswith(PNG_SIGNATURE)
    assert (width, height) == (2 * drawing.CSS_WIDTH, 2 * drawing.CSS_HEIGHT)
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers["Cache-Control"] == (
        f"private, max-age={max_age}, no-transform"
    )
    assert "Access-Control-Allow-Origin" not in response.headers


def test_image_is_the_same_on_every_request(client, image):
    first = client.get(image["challenge"]["image_url"]).get_data()
    second = client.get(image["challenge"]["image_url"]).get_data()

    assert first == second


def test_image_served_after_answer(client, image, contract, clock):
    clock.advance(3)
    answered = post_answer(client, image, {"text": image_answer(image)})
    response = client.get(image["challenge"]["image_url"])

    assert answered.status_code == 200
    assert response.status_code == 200
    contract.check(response)


def test_media_with_origin_has_cors_headers(client, image, contract):
    response = client.get(image["challenge"]["image_url"], headers={"Origin": ORIGIN})

    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Vary"] == "Origin"
    contract.check(response)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_audio_served(client, image, contract, lang):
    response = client.get(media_path(image["challenge"]["audio_url"], lang=lang))

    assert response.status_code == 200, response.get_data(as_text=True)
    contract.check(response)
    wav = response.get_data()
    assert response.mimetype == "audio/wav"
    assert wav[:4] == b"RIFF"
    assert wav[8:12] == b"WAVE"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers["Cache-Control"].startswith("private, max-age=")


def test_audio_url_as_given_speaks_challenge_language(client, image, contract):
    response = client.get(image["challenge"]["audio_url"])

    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    contract.check(response)


def tampered(ticket: str) -> str:
    """Return ``ticket`` with the first character of its payload changed."""
    return ("B" if ticket[0] == "A" else "A") + ticket[1:]


def ticket_of(url: str) -> str:
    return parse_qs(urlsplit(url).query)["m"][0]


@dataclass(frozen=True)
class MediaRejection:
    """A media request, built from an image step and another one, and its Error."""

    path: Callable[[dict, dict, str], str]
    status: int
    error: str
    field: str | None
    request_valid: bool
    #: A word the message must contain, when it does not name the field.
    mentions: str | None = None


MEDIA_REJECTIONS = [
    pytest.param(
        MediaRejection(
            lambda step, other, kind: media_path(step["challenge"][f"{kind}_url"], m="x"),
            400,
            "invalid-media-ticket",
            "m",
            request_valid=False,
        ),
        id="m-garbage",
    ),
    pytest.param(
        MediaRejection(
            lambda step, other, kind: (
                f"{CHALLENGES}/{step['challenge_id']}/{kind}"
                + ("?lang=fr" if kind == "audio" else "")
            ),
            400,
            "invalid-media-ticket",
            "m",
            request_valid=False,
        ),
        id="m-missing",
    ),
    pytest.param(
        MediaRejection(
            lambda step, other, kind: media_path(
                step["challenge"][f"{kind}_url"],
                m=tampered(ticket_of(step["challenge"]["image_url"])),
            ),
            400,
            "invalid-media-ticket",
            "m",
            request_valid=True,
        ),
        id="m-tampered",
    ),
    pytest.param(
        MediaRejection(
            lambda step, other, kind: media_path(
                step["challenge"][f"{kind}_url"], m=step["envelope"]
            ),
            400,
            "invalid-media-ticket",
            "m",
            request_valid=True,
        ),
        id="m-is-envelope",
    ),
    pytest.param(
        MediaRejection(
            lambda step, other, kind: media_path(
                step["challenge"][f"{kind}_url"],
                m=ticket_of(other["challenge"]["image_url"]),
            ),
            404,
            "unknown-challenge",
            "challenge_id",
            request_valid=True,
            mentions="another challenge",
        ),
        id="m-of-other-challenge",
    ),
    pytest.param(
        MediaRejection(
            lambda step, other, kind: media_path(
                step["challenge"][f"{kind}_url"].replace(
                    step["challenge_id"], UNUSED_CHALLENGE_ID
                )
            ),
            404,
            "unknown-challenge",
            "challenge_id",
            request_valid=True,
            mentions="another challenge",
        ),
        id="challenge-id-of-other-challenge",
    ),
    pytest.param(
        MediaRejection(
            lambda step, other, kind: media_path(
                step["challenge"][f"{kind}_url"].replace(step["challenge_id"], "abc")
            ),
            404,
            "unknown-challenge",
            "challenge_id",
            request_valid=False,
            mentions="'abc'",
        ),
        id="challenge-id-too-short",
    ),
]


@pytest.mark.parametrize("kind", ["image", "audio"])
@pytest.mark.parametrize("case", MEDIA_REJECTIONS)
def test_media_rejects(client, level3, image, contract, case, kind):
    other = second_step(level3, contract)
    path = case.path(image, other, kind)

    if kind == "audio" and "lang=" not in path:
        path += "&lang=fr"

    response = client.get(path)

    assert_error(response, case.status, case.error, case.field, case.mentions)
    contract.check(response, request_valid=case.request_valid)
    assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("lang", ["de", "FR", ""], ids=["de", "upper-case", "empty"])
def test_audio_rejects_language(client, image, contract, lang):
    response = client.get(media_path(image["challenge"]["audio_url"], lang=lang))

    assert_error(response, 400, "invalid-request", "lang")
    contract.check(response, request_valid=False)


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_media_expired(client, image, contract, clock, kind):
    clock.advance(image["expires_in"] + 1)
    response = client.get(media_url(image, kind))

    assert_error(response, 410, "expired", "m", mentions="expired")
    contract.check(response)


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_media_rate_limited(client, image, contract, kind):
    # Images and clips count against one limit per network.
    url = image["challenge"]["image_url"]
    statuses = [client.get(url).status_code for _ in range(media_api.MEDIA_PER_MINUTE)]
    response = client.get(media_url(image, kind))

    assert statuses == [200] * media_api.MEDIA_PER_MINUTE
    assert_error(response, 429, "rate-limited", None, mentions="minute")
    assert response.headers["Retry-After"] == "60"
    contract.check(response)


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_media_store_unavailable(client, image, store, contract, kind):
    break_store(store)
    response = client.get(media_url(image, kind, lang="en"))

    assert_error(response, 503, "store-unavailable", None)
    assert response.headers["Retry-After"] == "1"
    contract.check(response)


@pytest.mark.parametrize("kind", ["image", "audio"])
def test_media_unexpected_error(client, image, contract, monkeypatch, kind):
    def fail(*args: Any) -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(media_api, "draw", fail)
    monkeypatch.setattr(audio, "clip", fail)
    response = client.get(media_url(image, kind, lang="en"))

    assert_error(response, 500, "internal-error", None, mentions="error id")
    assert "simulated failure" not in response.get_data(as_text=True)
    contract.check(response)


# Answers that fail unexpectedly


def test_answer_unexpected_error(client, hold, service, contract, monkeypatch):
    def fail(*args: Any) -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(service, "answer", fail)
    response = post_answer(client, hold, {})

    assert_error(response, 500, "internal-error", None, mentions="error id")
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    contract.check(response)

