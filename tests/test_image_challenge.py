"""Image challenges through the API: media, forgiving answers, attempts."""

from __future__ import annotations

import io
import wave

import pytest
from PIL import Image

from challenge_service import challenges
from challenge_service.media import audio
from challenge_service.media import image as drawing
from challenge_service.policies import Policies
from challenge_service.policy import SitePolicy
from challenge_service.signing import Signer
from conftest import epoch_wording
from conftest import ORIGIN
from conftest import SIGNING_KEY
from openapi_contract import challenge_secret
from test_escalation import _payload
from test_escalation import image_answer

NUMBER_WORDS = {
    "fr": [
        "zéro",
        "un",
        "deux",
        "trois",
        "quatre",
        "cinq",
        "six",
        "sept",
        "huit",
        "neuf",
    ],
    "en": [
        "zero",
        "one",
        "two",
        "three",
        "four",
        "five",
        "six",
        "seven",
        "eight",
        "nine",
    ],
}


@pytest.fixture
def image_step(app, flow, clock):
    """Return the image step of a level-3 flow."""
    Policies(app.extensions["challenge_service"].store).set(
        flow.site,
        SitePolicy(floor=3, max_level=3, max_pow_level=0, wait_per_level_ms=0),
    )
    issued = flow.issue().get_json()
    following = flow.answer(issued).get_json()
    assert following["challenge"]["kind"] == "image"
    clock.advance(3)
    return following


def _send(flow, step, text):
    return flow.client.post(
        f"/api/v1/challenges/{step['challenge_id']}/answer",
        json={"envelope": step["envelope"], "answer": {"text": text}},
        headers={"Origin": ORIGIN},
    )


def _spoken_digits(step) -> str:
    state = _payload(step["envelope"])
    _, secret = Signer([SIGNING_KEY]).derive(
        f"challenge:{step['challenge_id']}", state["k"]
    )
    return audio.digits(secret)


def test_image_step_describes_media(image_step):
    challenge = image_step["challenge"]

    assert challenge["family"] in ("text", "count")
    assert challenge["width"] == 260
    assert challenge["height"] == 100
    assert set(challenge["prompt"]) == {"fr", "en"}
    assert set(challenge["alt"]) == {"fr", "en"}
    assert {"kind": "timing", "mode": "wait"} in challenge["alternatives"]
    assert {"kind": "image"} in challenge["alternatives"]


def test_prompt_in_step_wording(image_step):
    state, secret = challenge_secret(image_step)
    challenge = image_step["challenge"]
    drawn = drawing.draw(challenge["family"], secret, state["style"])

    assert challenge["prompt"] == drawn.prompts[challenge["wording"]]
    assert state["challenge"]["wording"] == challenge["wording"]


def test_prompts_differ_between_wordings(app, clock, image_step):
    state = _payload(image_step["envelope"])
    context = app.extensions["challenge_service"].context(state, clock())
    kind = challenges.get("image")
    described = [
        kind.describe({**state["challenge"], "wording": wording}, context, "ticket")
        for wording in range(kind.wordings)
    ]

    for lang in ("fr", "en"):
        prompts = [item["prompt"][lang] for item in described]
        assert len(set(prompts)) == kind.wordings, prompts

    # The wording changes the prompt only, never the image or its alternative.
    for item in described[1:]:
        assert item["image_url"] == described[0]["image_url"]
        assert item["alt"] == described[0]["alt"]


def test_image_endpoint_serves_png(flow, image_step):
    response = flow.client.get(image_step["challenge"]["image_url"])

    assert response.status_code == 200
    assert response.mimetype == "image/png"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert response.headers["Cache-Control"].startswith("private, max-age=")
    picture = Image.open(io.BytesIO(response.data))
    assert picture.size == (520, 200)


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_audio_endpoint_serves_wav(flow, image_step, lang):
    response = flow.client.get(image_step["challenge"]["audio_url"] + f"&lang={lang}")

    assert response.status_code == 200
    assert response.mimetype == "audio/wav"
    with wave.open(io.BytesIO(response.data)) as clip:
        duration = clip.getnframes() / clip.getframerate()
    assert 2 < duration < 20


def test_audio_rejects_bad_language(flow, image_step):
    response = flow.client.get(image_step["challenge"]["audio_url"] + "&lang=de")

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid-request"
    assert response.get_json()["field"] == "lang"


def test_audio_url_as_given_speaks_challenge_language(flow, image_step):
    as_given = flow.client.get(image_step["challenge"]["audio_url"])
    french = flow.client.get(image_step["challenge"]["audio_url"] + "&lang=fr")

    assert as_given.status_code == 200
    assert as_given.data == french.data


def test_media_paths_offer_no_preflight_for_post(flow, image_step):
    response = flow.client.options(
        image_step["challenge"]["image_url"], headers={"Origin": ORIGIN}
    )

    assert "Access-Control-Allow-Methods" not in response.headers


def test_media_rejects_tampered_ticket(flow, image_step):
    url = image_step["challenge"]["image_url"]

    response = flow.client.get(url[:-2] + ("AA" if url[-2:] != "AA" else "BA"))

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid-media-ticket"
    assert response.get_json()["field"] == "m"


def test_media_rejects_ticket_of_other_challenge(flow, image_step):
    ticket = image_step["challenge"]["image_url"].split("?m=")[1]

    response = flow.client.get(f"/api/v1/challenges/{'A' * 22}/image?m={ticket}")

    assert response.status_code == 404
    assert response.get_json()["error"] == "unknown-challenge"


def test_media_expires_with_challenge(flow, clock, image_step):
    clock.advance(301)

    response = flow.client.get(image_step["challenge"]["image_url"])

    assert response.status_code == 410
    assert response.get_json()["error"] == "expired"


def test_media_rate_limited_per_network(flow, image_step):
    url = image_step["challenge"]["image_url"]
    statuses = [flow.client.get(url).status_code for _ in range(62)]

    assert statuses[:60] == [200] * 60
    assert statuses[60:] == [429, 429]


def test_image_answer_passes_and_verifies(flow, image_step):
    response = _send(flow, image_step, image_answer(image_step))

    assert response.status_code == 200
    assert flow.verify(response.get_json()["pass_token"])["kinds"] == ["pow", "image"]


def test_image_answer_forgives_case_and_spaces(flow, image_step):
    expected = image_answer(image_step)
    sloppy = " ".join(expected.lower())

    assert _send(flow, image_step, sloppy).status_code == 200


@pytest.mark.parametrize("lang", ["fr", "en"])
def test_spoken_digits_accepted_as_words(flow, image_step, lang):
    words = " ".join(NUMBER_WORDS[lang][int(d)] for d in _spoken_digits(image_step))

    assert _send(flow, image_step, words).status_code == 200


def test_spoken_digits_accepted_as_digits(flow, image_step):
    assert _send(flow, image_step, _spoken_digits(image_step)).status_code == 200


def test_wrong_answers_count_down_then_wait(app, flow, image_step, clock):
    first = _send(flow, image_step, "nope").get_json()
    second = _send(flow, image_step, "nope").get_json()
    third = _send(flow, image_step, "nope").get_json()

    assert first["error"] == "wrong-answer"
    assert first["attempts_left"] == 2
    assert second["attempts_left"] == 1
    assert third["attempts_left"] == 0
    following = third["next"]
    assert following["challenge"] == {
        "kind": "timing",
        "mode": "wait",
        "wait_ms": 8000,
        "wording": epoch_wording(app, "timing", clock.now),
        "alternatives": [],
    }
    assert _send(flow, image_step, image_answer(image_step)).status_code == 409
    assert _send(flow, image_step, "nope").status_code == 409
    clock.advance(8)
    passed = flow.client.post(
        f"/api/v1/challenges/{following['challenge_id']}/answer",
        json={"envelope": following["envelope"], "answer": {}},
        headers={"Origin": ORIGIN},
    ).get_json()
    assert flow.verify(passed["pass_token"])["kinds"] == ["pow", "timing"]


def test_new_image_replaces_old(flow, image_step):
    response = flow.client.post(
        f"/api/v1/challenges/{image_step['challenge_id']}/replace",
        json={"envelope": image_step["envelope"], "alternative": {"kind": "image"}},
        headers={"Origin": ORIGIN},
    )
    fresh = response.get_json()

    assert response.status_code == 201
    assert fresh["challenge"]["kind"] == "image"
    assert fresh["challenge_id"] != image_step["challenge_id"]
    assert _send(flow, image_step, image_answer(image_step)).status_code == 409
    assert _send(flow, image_step, "nope").status_code == 409
    assert _send(flow, fresh, image_answer(fresh)).status_code == 200


@pytest.mark.parametrize("text", ["", "x" * 65])
def test_bad_image_answers_rejected(flow, image_step, text):
    response = (
        _send(flow, image_step, text)
        if text
        else flow.client.post(
            f"/api/v1/challenges/{image_step['challenge_id']}/answer",
            json={"envelope": image_step["envelope"], "answer": {"text": 4}},
            headers={"Origin": ORIGIN},
        )
    )

    assert response.status_code == 400
    assert response.get_json()["field"] == "answer.text"


def test_fast_image_answer_is_a_signal(flow, app, clock):
    Policies(app.extensions["challenge_service"].store).set(
        flow.site,
        SitePolicy(floor=3, max_level=3, max_pow_level=0, wait_per_level_ms=0),
    )

    for _ in range(3):
        step = flow.answer(flow.issue().get_json()).get_json()
        _send(flow, step, image_answer(step))

    assert "fast-answer" in _payload(flow.issue().get_json()["envelope"])["reasons"]
