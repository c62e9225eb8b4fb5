"""Timing challenges on the server's clock, and variants rotated by epoch."""

from __future__ import annotations

import base64
import json

import pytest

from challenge_service import challenges
from challenge_service.challenges.epochs import Rotation
from challenge_service.policies import Policies
from challenge_service.policy import SitePolicy
from challenge_service.signing import Signer
from conftest import epoch_wording
from conftest import ORIGIN
from conftest import SIGNING_KEY
from openapi_contract import answer_step
from openapi_contract import level_flow

DAY = 86400


def _payload(signed: str) -> dict:
    data = signed.split(".")[0]
    return json.loads(base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)))


@pytest.fixture
def timed(app, flow):
    """Return the hold step of a level-2 flow."""
    Policies(app.extensions["challenge_service"].store).set(
        flow.site, SitePolicy(floor=2)
    )
    issued = flow.issue().get_json()
    following = flow.answer(issued).get_json()
    assert following["challenge"]["kind"] == "timing"
    return following


def _send(flow, issued, answer):
    return flow.client.post(
        f"/api/v1/challenges/{issued['challenge_id']}/answer",
        json={"envelope": issued["envelope"], "answer": answer},
        headers={"Origin": ORIGIN},
    )


def test_hold_one_second_early_rejected(flow, clock, timed):
    hold_ms = timed["challenge"]["hold_ms"]
    clock.advance(hold_ms / 1000 - 1)

    response = _send(flow, timed, {"held_ms": hold_ms, "input": "key"})

    assert response.status_code == 422
    assert response.get_json()["error"] == "too-early"
    assert response.get_json()["retry_after_ms"] == 1000
    assert response.headers["Retry-After"] == "1"


def test_hold_on_time_passes(flow, clock, timed):
    hold_ms = timed["challenge"]["hold_ms"]
    clock.advance(hold_ms / 1000 - 1)
    _send(flow, timed, {"held_ms": hold_ms, "input": "key"})
    clock.advance(1)

    response = _send(flow, timed, {"held_ms": hold_ms, "input": "pointer"})

    assert response.status_code == 200
    assert response.get_json()["result"] == "pass"
    assert flow.verify(response.get_json()["pass_token"])["kinds"] == ["pow", "timing"]


def test_hold_longer_than_server_saw_is_a_signal(app, flow, clock, timed):
    service = app.extensions["challenge_service"]
    network = service.visitors.network("127.0.0.1", clock())
    hold_ms = timed["challenge"]["hold_ms"]
    clock.advance(hold_ms / 1000)
    before = service.store.count("fast-answer", network, 600, clock())

    response = _send(flow, timed, {"held_ms": hold_ms + 5000, "input": "key"})

    assert response.status_code == 200
    assert service.store.count("fast-answer", network, 600, clock()) == before + 1


def test_honest_hold_is_no_signal(app, flow, clock, timed):
    service = app.extensions["challenge_service"]
    network = service.visitors.network("127.0.0.1", clock())
    hold_ms = timed["challenge"]["hold_ms"]
    clock.advance(hold_ms / 1000 + 0.2)

    _send(flow, timed, {"held_ms": hold_ms, "input": "key"})

    assert service.store.count("fast-answer", network, 600, clock()) == 0


def test_hold_released_early_is_wrong(flow, clock, timed):
    hold_ms = timed["challenge"]["hold_ms"]
    clock.advance(hold_ms / 1000)

    response = _send(flow, timed, {"held_ms": hold_ms - 100, "input": "key"})

    assert response.status_code == 422
    assert response.get_json()["error"] == "wrong-answer"


def test_reported_times_cannot_shorten_wait(flow, clock, timed):
    # The browser may claim any duration; only the server's clock counts.
    response = _send(flow, timed, {"held_ms": 600_000, "input": "key"})

    assert response.get_json()["error"] == "too-early"


@pytest.mark.parametrize(
    "answer",
    [
        {"held_ms": -1},
        {"held_ms": "2000"},
        {"held_ms": True},
        {"held_ms": 10**9},
        {"input": "voice"},
        [],
        "held",
    ],
)
def test_bad_timing_answers_rejected(flow, timed, answer):
    response = _send(flow, timed, answer)

    assert response.status_code == 400
    assert response.get_json()["error"] == "invalid-request"
    assert response.get_json()["field"].startswith("answer")


def test_switch_to_wait(flow, clock, timed):
    response = flow.switch_to_wait(timed)
    waiting = response.get_json()

    assert response.status_code == 201
    assert waiting["challenge"]["mode"] == "wait"
    assert waiting["step"] == timed["step"]
    assert _send(flow, waiting, {}).get_json()["error"] == "too-early"
    clock.advance(waiting["challenge"]["wait_ms"] / 1000)
    passed = _send(flow, waiting, {}).get_json()
    assert flow.verify(passed["pass_token"])["success"] is True


def test_switch_spends_the_old_challenge(flow, clock, timed):
    flow.switch_to_wait(timed)
    clock.advance(5)

    response = _send(flow, timed, {"held_ms": 5000, "input": "key"})

    assert response.status_code == 409


@pytest.mark.parametrize(
    "alternative",
    [
        {"kind": "pow"},
        {"kind": "image"},
        {"kind": "timing", "mode": "instant"},
        {"kind": "timing", "mode": "wait", "wait_ms": 0},
        "wait",
        None,
    ],
)
def test_switch_rejects_unoffered_alternatives(flow, timed, alternative):
    response = flow.client.post(
        f"/api/v1/challenges/{timed['challenge_id']}/replace",
        json={"envelope": timed["envelope"], "alternative": alternative},
        headers={"Origin": ORIGIN},
    )

    assert response.status_code == 400
    assert response.get_json()["field"] == "alternative"


def test_device_clock_plays_no_part(flow, clock, timed):
    # Nothing the browser sends carries its clock; a client report with a
    # wildly wrong timestamp changes nothing.
    clock.advance(timed["challenge"]["hold_ms"] / 1000)
    response = flow.client.post(
        f"/api/v1/challenges/{timed['challenge_id']}/answer",
        json={
            "envelope": timed["envelope"],
            "answer": {"held_ms": timed["challenge"]["hold_ms"], "input": "touch"},
            "client": {"solve_ms": 7_200_000},
        },
        headers={"Origin": ORIGIN},
    )

    assert response.status_code == 200


# Epochs.


def _rotation(key: str = SIGNING_KEY) -> Rotation:
    return Rotation(Signer([key]).derive, DAY)


@pytest.mark.parametrize("name", challenges.names())
def test_consecutive_epochs_differ_for_every_kind(name):
    kind = challenges.get(name)
    rotation = _rotation()

    for day in range(30):
        today = rotation.select(name, len(kind.variants), day * DAY + 10)
        tomorrow = rotation.select(name, len(kind.variants), (day + 1) * DAY + 10)

        assert today.variant != tomorrow.variant
        assert today.style != tomorrow.style


@pytest.mark.parametrize("name", challenges.names())
def test_same_epoch_same_variant(name):
    kind = challenges.get(name)
    rotation = _rotation()

    morning = rotation.select(name, len(kind.variants), 5 * DAY + 1)
    evening = rotation.select(name, len(kind.variants), 6 * DAY - 1)

    assert morning == evening
    assert _rotation().select(name, len(kind.variants), 5 * DAY + 1) == morning


def test_other_key_other_rotation():
    other = _rotation("another-signing-key-0123456789abcdefgh")
    selections = [_rotation().select("pow", 3, day * DAY) for day in range(10)]
    others = [other.select("pow", 3, day * DAY) for day in range(10)]

    assert [s.style for s in selections] != [s.style for s in others]


def test_pow_variant_follows_epoch(flow, clock):
    variants = set()

    for _ in range(3):
        issued = flow.issue().get_json()
        challenge = issued["challenge"]
        variants.add((challenge["bits"], challenge["puzzles"], len(challenge["salt"])))
        clock.advance(DAY)

    assert len(variants) == 3


def test_challenge_from_before_epoch_change_still_passes(flow, clock):
    # Issue one second before the epoch ends, answer after it.
    clock.advance(DAY - clock() % DAY - 1)
    issued = flow.issue().get_json()
    clock.advance(2)
    assert (
        _payload(flow.issue().get_json()["envelope"])["v"]
        != _payload(issued["envelope"])["v"]
    )

    response = flow.answer(issued, solve_seconds=0.5)

    assert response.status_code == 200
    assert flow.verify(response.get_json()["pass_token"])["success"] is True


# Wordings of the instructions.

#: Kinds whose instructions rotate their wording.
WORDED_KINDS = [name for name in challenges.names() if challenges.get(name).wordings]

#: Level whose second step is a challenge of each kind: a proof of work, then
#: a hold at level 2 or an image at level 3.
STEP_LEVELS = {"timing": 2, "image": 3}


def _worded_flow(client, store, clock, name):
    """Return a flow on a new site whose second step is of kind ``name``."""
    level = STEP_LEVELS[name]
    return level_flow(
        client,
        store,
        clock,
        level,
        max_level=level,
        max_pow_level=0,
        wait_per_level_ms=0,
        network_limit=0,
        burst_per_minute=0,
    )


def _second_step(flow, name):
    following = flow.answer(flow.issue().get_json()).get_json()
    assert following["challenge"]["kind"] == name
    return following


def test_every_worded_kind_has_a_step_level():
    assert sorted(STEP_LEVELS) == WORDED_KINDS


def test_pow_has_no_wording(flow):
    assert "wording" not in flow.issue().get_json()["challenge"]


@pytest.mark.parametrize("name", WORDED_KINDS)
def test_consecutive_epochs_differ_in_wording(app, client, store, clock, name):
    flow = _worded_flow(client, store, clock, name)
    wordings = []

    for _ in range(2 * challenges.get(name).wordings):
        first = _second_step(flow, name)
        second = _second_step(flow, name)
        wording = first["challenge"]["wording"]

        assert second["challenge"]["wording"] == wording
        assert wording == epoch_wording(app, name, clock())
        assert _payload(first["envelope"])["challenge"]["wording"] == wording
        wordings.append(wording)
        clock.advance(DAY)

    for today, tomorrow in zip(wordings, wordings[1:]):
        assert today != tomorrow

    assert set(wordings) == set(range(challenges.get(name).wordings))


def test_wording_offset_follows_key():
    other = _rotation("another-signing-key-0123456789abcdefgh")
    wordings = [_rotation().select("wording:timing", 3, day * DAY) for day in range(3)]
    others = [other.select("wording:timing", 3, day * DAY) for day in range(3)]

    assert [w.variant for w in wordings] != [w.variant for w in others]


@pytest.mark.parametrize("name", WORDED_KINDS)
def test_wording_kept_across_epoch_change(client, store, clock, name):
    flow = _worded_flow(client, store, clock, name)
    # The proof of work takes 0.4 s, so the step is issued 1 s before the
    # epoch ends, and its answer arrives after it.
    clock.advance(DAY - clock() % DAY - 1.4)
    before = _second_step(flow, name)
    clock.advance(1.5)
    after = _second_step(flow, name)

    assert before["challenge"]["wording"] != after["challenge"]["wording"]

    response = answer_step(flow, before)

    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["result"] == "pass"
    assert flow.verify(response.get_json()["pass_token"])["success"] is True
    assert (
        _payload(before["envelope"])["challenge"]["wording"]
        == before["challenge"]["wording"]
    )


def test_fresh_wait_keeps_policy_length(app, flow, clock):
    Policies(app.extensions["challenge_service"].store).set(
        flow.site,
        SitePolicy(floor=2, max_level=2, max_pow_level=0, wait_per_level_ms=20_000),
    )
    hold = flow.answer(flow.issue().get_json()).get_json()
    clock.advance(hold["challenge"]["hold_ms"] / 1000)
    waiting = _send(flow, hold, {"held_ms": hold["challenge"]["hold_ms"]}).get_json()
    assert waiting["challenge"]["wait_ms"] == 40_000

    response = flow.switch_to_wait(waiting)

    assert response.status_code == 201
    assert response.get_json()["challenge"]["wait_ms"] == 40_000
