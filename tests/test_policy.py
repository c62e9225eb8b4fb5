"""The risk policy as a pure function: monotone, capped, never a dead end."""

from __future__ import annotations

import dataclasses
import itertools

import pytest

from challenge_service import challenges
from challenge_service.policy import decide
from challenge_service.policy import MAX_LEVEL
from challenge_service.policy import plan
from challenge_service.policy import REASONS
from challenge_service.policy import Signals
from challenge_service.policy import SitePolicy

RISKS = [0.0, 0.1, 0.29, 0.3, 0.5, 0.7, 0.89, 0.9, 1.0]
COUNTS = [0, 1, 2, 5, 20, 100, 10_000]
SIGNAL_FIELDS = [
    "network_rate",
    "subject_rate",
    "wrong_answers",
    "fast_solve",
    "fast_answer",
    "replay",
    "site_rate",
]
DEFAULT = SitePolicy()


def _level(risk: float, policy: SitePolicy = DEFAULT, **counts: int) -> int:
    return decide(risk, Signals(**counts), policy).level


def test_trusted_visitor_gets_invisible_pow():
    decision = decide(0.0, Signals(), DEFAULT)

    assert decision.level == 0
    assert [step.kind for step in decision.steps] == ["pow"]
    assert decision.reasons == ()


def test_monotone_in_portal_risk():
    for counts in [{}, {"wrong_answers": 2}, {"network_rate": 30}]:
        levels = [_level(risk, **counts) for risk in RISKS]

        assert levels == sorted(levels), counts


@pytest.mark.parametrize("field", SIGNAL_FIELDS)
def test_monotone_in_every_signal(field):
    for risk in (0.0, 0.4, 0.8):
        levels = [_level(risk, **{field: count}) for count in COUNTS]

        assert levels == sorted(levels), (field, risk)


def test_monotone_over_combinations():
    # Raising any one input of any combination never lowers the level.
    grid = [0, 2, 50]

    for risk, wrong, rate, fast in itertools.product([0.0, 0.5], grid, grid, grid):
        base = _level(risk, wrong_answers=wrong, network_rate=rate, fast_solve=fast)

        assert (
            _level(risk + 0.3, wrong_answers=wrong, network_rate=rate, fast_solve=fast)
            >= base
        )
        assert (
            _level(risk, wrong_answers=wrong + 1, network_rate=rate, fast_solve=fast)
            >= base
        )
        assert (
            _level(risk, wrong_answers=wrong, network_rate=rate + 10, fast_solve=fast)
            >= base
        )
        assert (
            _level(risk, wrong_answers=wrong, network_rate=rate, fast_solve=fast + 1)
            >= base
        )


def test_capped_at_max_level():
    everything = {field: 10**9 for field in SIGNAL_FIELDS}

    assert _level(1.0, **everything) == MAX_LEVEL
    assert _level(1.0, SitePolicy(max_level=2), **everything) == 2


def test_score_never_exceeds_one():
    everything = {field: 10**9 for field in SIGNAL_FIELDS}

    assert decide(1.0, Signals(**everything), DEFAULT).score <= 1.0


@pytest.mark.parametrize(
    ("risk", "counts", "reason"),
    [
        (0.6, {}, "portal-risk"),
        (0.0, {"wrong_answers": 4}, "wrong-answers"),
        (0.0, {"fast_solve": 1}, "fast-solve"),
        (0.0, {"network_rate": 40}, "network-rate"),
        (0.0, {"replay": 2}, "replay"),
        (0.0, {"site_rate": 600}, "site-burst"),
    ],
)
def test_reasons_name_what_raised_the_level(risk, counts, reason):
    decision = decide(risk, Signals(**counts), DEFAULT)

    assert decision.level >= 1
    assert reason in decision.reasons
    assert set(decision.reasons) <= set(REASONS)


def test_site_burst_raises_floor_for_everyone():
    assert _level(0.0, site_rate=599) == 0
    assert _level(0.0, site_rate=600) == 1
    assert _level(0.0, site_rate=1200) == 2
    assert _level(0.0, SitePolicy(burst_per_minute=0), site_rate=10**6) == 0


def test_floor_of_site_applies():
    decision = decide(0.0, Signals(), SitePolicy(floor=3))

    assert decision.level == 3
    assert "site-floor" in decision.reasons


@pytest.mark.parametrize("max_pow_level", range(MAX_LEVEL + 1))
@pytest.mark.parametrize("level", range(MAX_LEVEL + 1))
def test_every_level_has_path_without_cognitive_test(level, max_pow_level):
    policy = SitePolicy(max_pow_level=max_pow_level)

    for step in plan(level, policy):
        kind = challenges.get(step.kind)

        if not kind.cognitive:
            continue

        # A cognitive step offers a wait, which asks nothing to be read.
        context = _context(level)
        alternatives = kind.build(context, **step.options)["alternatives"]
        waits = [a for a in alternatives if not challenges.get(a["kind"]).cognitive]

        assert waits, (level, step)


def test_proof_of_work_capped_by_budget_then_waits():
    policy = SitePolicy(max_pow_level=1, wait_per_level_ms=4000)
    steps = plan(4, policy)

    assert steps[0].kind == "pow"
    assert steps[0].options == {"level": 1}
    assert steps[-1].kind == "timing"
    assert steps[-1].options == {"mode": "wait", "wait_ms": 12000}


def test_each_level_costs_more_than_the_one_below():
    def cost(level: int) -> tuple[int, int, int]:
        steps = plan(level, DEFAULT)
        pow_level = steps[0].options["level"]
        interactive = sum(
            1
            for step in steps[1:]
            if step.kind != "timing" or step.options.get("mode") == "hold"
        )
        waits = sum(step.options.get("wait_ms", 0) for step in steps)
        return (len(steps), pow_level + interactive, waits)

    costs = [cost(level) for level in range(MAX_LEVEL + 1)]

    for lower, higher in zip(costs, costs[1:]):
        assert higher > lower


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"default_risk": 1.5}, "default_risk"),
        ({"thresholds": [0.5, 0.4, 0.7, 0.9]}, "thresholds"),
        ({"thresholds": [0.5]}, "thresholds"),
        ({"floor": 5}, "floor"),
        ({"max_pow_level": -1}, "max_pow_level"),
        ({"quotas": {"book": [0, 3600]}}, "quotas"),
        ({"quotas": {"book": [2, 10]}}, "quotas"),
        ({"halves": {"replay": 0}}, "halves"),
        ({"no_such_field": 1}, "no_such_field"),
    ],
)
def test_policy_rejects_out_of_range_fields(values, field):
    with pytest.raises(ValueError, match=field):
        SitePolicy.from_dict(values)


def test_policy_round_trips_through_dict():
    policy = SitePolicy(
        floor=1,
        quotas={"book": (2, 604800)},
        thresholds=(0.2, 0.4, 0.6, 0.8),
        require_risk_ticket=True,
    )

    assert SitePolicy.from_dict(policy.to_dict()) == policy


def _context(level: int):
    return challenges.Context(
        challenge_id="x" * 22,
        level=level,
        lang="fr",
        variant=0,
        style=1,
        secret=b"s" * 32,
        issued_at=0.0,
        now=0.0,
    )


def test_signals_fields_cover_every_counted_reason():
    counted = set(Signals().counts())

    assert counted == set(REASONS) - {"portal-risk", "site-burst", "site-floor"}
    assert {field.name for field in dataclasses.fields(Signals)} == set(SIGNAL_FIELDS)


@pytest.mark.parametrize(
    "values",
    [
        {"window_seconds": 600_000},
        {"window_seconds": 0},
        {"window_seconds": -600},
        {"wait_per_level_ms": 1_722_482_693_000},
        {"wait_per_level_ms": -1},
        {"quotas": {"book": [2, 1_722_482_693_000]}},
        {"quotas": {"book": [2, 0]}},
        {"quotas": {"book": [2, -604800]}},
    ],
)
def test_policy_rejects_times_in_wrong_unit(values):
    field = next(iter(values))

    with pytest.raises(ValueError) as raised:
        SitePolicy.from_dict(values)

    message = str(raised.value)
    assert field in message
    assert "seconds" in message or "milliseconds" in message


@pytest.mark.parametrize(
    "values",
    [
        {"floor": "1"},
        {"floor": True},
        {"floor": 1.5},
        {"default_risk": "0.5"},
        {"default_risk": float("nan")},
        {"thresholds": "0.3"},
        {"thresholds": [0.3, 0.5, 0.7, "x"]},
        {"quotas": [["book", 2, 3600]]},
        {"quotas": {"book": 2}},
        {"quotas": {"book": [2, 3600, 1]}},
        {"halves": {"replay": "two"}},
        {"halves": []},
        {"require_risk_ticket": "true"},
        {"require_risk_ticket": 1},
        {"require_risk_ticket": None},
    ],
)
def test_policy_rejects_wrong_types(values):
    with pytest.raises(ValueError, match=next(iter(values))):
        SitePolicy.from_dict(values)
