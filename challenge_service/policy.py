"""The risk policy: one pure function from risk inputs to a challenge plan.

Every input is a risk in its own unit: the portal's score from 0 to 1, and
counts the service observed over a sliding window. Each count becomes a risk
from 0 to 1 that rises with the count, ``1 - 2 ** (-count / half)``, where
``half`` is the count that alone makes a risk of one half. The risks combine
as independent pieces of evidence, ``1 - prod(1 - r)``, so the score never
falls when any input rises, and never exceeds 1. The level is the number of
thresholds the score reaches, raised to the site's traffic floor and capped
at ``max_level``. Each level maps to a plan: the steps a visitor passes in
order. Proof of work stops growing at ``max_pow_level``, the budget a slow
phone meets; past it, escalation adds a server-enforced wait. Every step that
asks a person to read, listen or count offers a wait instead, so no level is
a dead end for someone who can use neither a mouse nor a screen.
"""

from __future__ import annotations

import dataclasses
import math
import re
from typing import Any

MAX_LEVEL = 4

#: Action names, as the widget's data-action and the API accept them.
_ACTION = re.compile(r"[A-Za-z0-9_.-]{1,32}")

#: Reason codes, in the order they are reported.
REASONS = {
    "portal-risk": "The portal rated this visit as risky.",
    "network-rate": "Many challenges came from the same network recently.",
    "subject-rate": "Many challenges were requested for the same account recently.",
    "wrong-answers": "Several wrong answers came from the same network.",
    "fast-solve": "A proof of work was solved faster than a browser can.",
    "fast-answer": "An answer came faster than a person can read the challenge.",
    "replay": "An answer or a pass token was sent more than once.",
    "site-burst": "The site is receiving a burst of requests, as when slots open.",
    "site-floor": "The site asks for at least this level from everyone.",
}

#: The signals counted by the service, with the count that alone makes a risk
#: of one half by default.
SIGNAL_HALVES = {
    "network-rate": 20.0,
    "subject-rate": 10.0,
    "wrong-answers": 3.0,
    "fast-solve": 1.0,
    "fast-answer": 2.0,
    "replay": 2.0,
}


@dataclasses.dataclass(frozen=True)
class Signals:
    """What the service observed over its sliding windows, as counts."""

    network_rate: int = 0
    subject_rate: int = 0
    wrong_answers: int = 0
    fast_solve: int = 0
    fast_answer: int = 0
    replay: int = 0
    #: Challenges the whole site issued in the last minute.
    site_rate: int = 0

    def counts(self) -> dict[str, int]:
        """Return the counted signals by reason code."""
        return {
            "network-rate": self.network_rate,
            "subject-rate": self.subject_rate,
            "wrong-answers": self.wrong_answers,
            "fast-solve": self.fast_solve,
            "fast-answer": self.fast_answer,
            "replay": self.replay,
        }


@dataclasses.dataclass(frozen=True)
class SitePolicy:
    """A site's thresholds and budgets; every field can be overridden per site."""

    #: Risk used when the widget brings no risk ticket.
    default_risk: float = 0.0
    #: Whether every challenge request of the site must carry a risk ticket.
    #: A request without one gets 400 ``invalid-risk-ticket``.
    require_risk_ticket: bool = False
    #: Score at which levels 1, 2, 3 and 4 begin.
    thresholds: tuple[float, ...] = (0.3, 0.5, 0.7, 0.9)
    #: Lowest level of every challenge of the site.
    floor: int = 0
    max_level: int = MAX_LEVEL
    #: Highest proof-of-work level; about 5 s on a slow phone at level 4.
    max_pow_level: int = 4
    #: Server-enforced wait added per level above ``max_pow_level``, in ms.
    wait_per_level_ms: int = 4000
    #: Challenges per minute for the whole site that raise everyone to level
    #: 1, and twice as many to level 2; 0 turns the burst floor off.
    burst_per_minute: int = 600
    #: Count that alone makes a risk of one half, per signal.
    halves: dict[str, float] = dataclasses.field(
        default_factory=lambda: dict(SIGNAL_HALVES)
    )
    #: Challenges per network per window beyond which requests get 429.
    network_limit: int = 120
    #: Length of the sliding windows of the per-network and per-subject signals.
    window_seconds: int = 600
    #: Successful verifications allowed per subject, by action:
    #: ``{"book": [2, 604800]}`` is two per week.
    quotas: dict[str, tuple[int, int]] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> SitePolicy:
        """Build a policy from the JSON an operator stored; raise ValueError."""
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)

        if unknown:
            raise ValueError(
                f"Unknown policy fields {unknown}; known fields: {sorted(known)}."
            )

        policy = cls(**{**values, **_tuples(values)})
        policy.validate()
        return policy

    def to_dict(self) -> dict[str, Any]:
        """Return the policy as JSON-ready values."""
        return dataclasses.asdict(self)

    def validate(self) -> None:
        """Raise ValueError naming the first field that is out of range."""
        _check_number("default_risk", self.default_risk, 0.0, 1.0, "a risk")

        if not isinstance(self.require_risk_ticket, bool):
            raise ValueError(
                "require_risk_ticket must be true or false, not"
                f" {self.require_risk_ticket!r}."
            )

        if not isinstance(self.thresholds, tuple) or len(self.thresholds) != MAX_LEVEL:
            raise ValueError(
                f"thresholds must be {MAX_LEVEL} increasing scores from 0.0 to 1.0."
            )

        for threshold in self.thresholds:
            _check_number("thresholds", threshold, 0.001, 1.0, "a score")

        if list(self.thresholds) != sorted(self.thresholds):
            raise ValueError("thresholds must be increasing scores from 0.0 to 1.0.")

        for name in ("floor", "max_level", "max_pow_level"):
            _check_whole(name, getattr(self, name), 0, MAX_LEVEL, "a level")

        if self.floor > self.max_level:
            raise ValueError("floor must not be above max_level.")

        _check_whole(
            "wait_per_level_ms", self.wait_per_level_ms, 0, 20_000, "milliseconds"
        )
        _check_whole(
            "burst_per_minute", self.burst_per_minute, 0, 10_000_000, "a count"
        )
        _check_whole("network_limit", self.network_limit, 0, 10_000_000, "a count")
        _check_whole("window_seconds", self.window_seconds, 60, 86_400, "seconds")

        unknown = (
            set(self.halves) - set(SIGNAL_HALVES)
            if isinstance(self.halves, dict)
            else set()
        )

        if unknown:
            raise ValueError(
                f"halves names unknown signals {sorted(unknown)}; the signals are"
                f" {sorted(SIGNAL_HALVES)}."
            )

        if not isinstance(self.halves, dict) or set(self.halves) != set(SIGNAL_HALVES):
            raise ValueError(
                f"halves must give a count for each of {sorted(SIGNAL_HALVES)}."
            )

        for code, half in self.halves.items():
            _check_number(f"halves[{code!r}]", half, 0.1, 1_000_000, "a count")

        if not isinstance(self.quotas, dict):
            raise ValueError(
                "quotas must map actions to [limit, window seconds], such as"
                ' {"book": [2, 604800]}.'
            )

        for action, pair in self.quotas.items():
            if not isinstance(action, str) or not _ACTION.fullmatch(action):
                raise ValueError(
                    f"quotas key {action!r} is not an action name: use 1 to 32"
                    " letters, digits, '_', '.' or '-', as the widget's data-action."
                )

            if not isinstance(pair, tuple) or len(pair) != 2:
                raise ValueError(f"quotas[{action!r}] must be [limit, window seconds].")

            _check_whole(f"quotas[{action!r}] limit", pair[0], 1, 1000, "a count")
            _check_whole(
                f"quotas[{action!r}] window", pair[1], 60, 366 * 86400, "seconds"
            )


def _check_whole(name: str, value: Any, low: int, high: int, unit: str) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not low <= value <= high
    ):
        raise ValueError(
            f"{name} must be a whole number from {low} to {high} ({unit}),"
            f" not {value!r}."
        )


def _check_number(name: str, value: Any, low: float, high: float, unit: str) -> None:
    # The range comparison is false for NaN and exact for huge integers, which
    # math.isfinite would refuse with OverflowError.
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not (low <= value <= high)
    ):
        raise ValueError(f"{name} must be {unit} from {low} to {high}, not {value!r}.")


def _tuples(values: dict[str, Any]) -> dict[str, Any]:
    converted: dict[str, Any] = {}

    if "thresholds" in values and isinstance(values["thresholds"], list):
        converted["thresholds"] = tuple(values["thresholds"])

    if "quotas" in values and isinstance(values["quotas"], dict):
        converted["quotas"] = {
            action: tuple(pair) if isinstance(pair, (list, tuple)) else pair
            for action, pair in values["quotas"].items()
        }

    if "halves" in values and isinstance(values["halves"], dict):
        converted["halves"] = {**SIGNAL_HALVES, **values["halves"]}

    return converted


@dataclasses.dataclass(frozen=True)
class Step:
    """One challenge of a plan: its kind, its options and its proof-of-work level."""

    kind: str
    options: dict[str, Any] = dataclasses.field(default_factory=dict)

    def to_list(self) -> list[Any]:
        """Return the step in the compact form signed into envelopes."""
        return [self.kind, self.options]


@dataclasses.dataclass(frozen=True)
class Decision:
    """The level of a challenge, its steps, and the reasons that led there."""

    level: int
    score: float
    steps: tuple[Step, ...]
    reasons: tuple[str, ...]


def signal_risk(count: float, half: float) -> float:
    """Return the risk from 0 to 1 that ``count`` events make alone."""
    if count <= 0:
        return 0.0

    return 1.0 - math.pow(2.0, -count / half)


def exact_network_counts(policy: SitePolicy) -> tuple[int, int]:
    """Return the range of a network's counts where every request must count at once.

    Below it, a network's requests are too few to raise its level alone;
    above it, the network is past its limit and every level. Within it,
    counts that lag behind would let a network get more than its limit, or
    a lower level, than the policy sets. An empty range is ``(0, 0)``.
    """
    half = policy.halves["network-rate"]
    counts = [
        half * math.log2(1.0 / (1.0 - threshold))
        for threshold in policy.thresholds
        if threshold < 1.0
    ]

    if not counts:
        return 0, 0

    low = max(1, math.floor(counts[0] / 2))
    high = max(policy.network_limit, math.ceil(counts[-1]))
    return low, high + 1


def decide(portal_risk: float, signals: Signals, policy: SitePolicy) -> Decision:
    """Return the level, steps and reasons for one challenge request."""
    portal_risk = min(max(portal_risk, 0.0), 1.0)
    reasons: list[str] = []
    keep = 1.0 - portal_risk

    if portal_risk >= policy.thresholds[0]:
        reasons.append("portal-risk")

    for code, count in signals.counts().items():
        risk = signal_risk(count, policy.halves[code])
        keep *= 1.0 - risk

        # A signal is named as a reason once it alone would raise a level.
        if risk >= policy.thresholds[0]:
            reasons.append(code)

    score = 1.0 - keep
    level = sum(1 for threshold in policy.thresholds if score >= threshold)
    floor = policy.floor

    if floor > level:
        reasons.append("site-floor")

    burst = policy.burst_per_minute

    if burst and signals.site_rate >= burst:
        burst_floor = 2 if signals.site_rate >= 2 * burst else 1

        if burst_floor > max(level, floor):
            reasons.append("site-burst")

        floor = max(floor, burst_floor)

    level = min(max(level, floor), policy.max_level)
    return Decision(level, round(score, 4), plan(level, policy), tuple(reasons))


def plan(level: int, policy: SitePolicy) -> tuple[Step, ...]:
    """Return the steps of ``level``: proof of work, then what people pass."""
    pow_level = min(level, policy.max_pow_level)
    steps = [Step("pow", {"level": pow_level})]
    extra_wait = (level - pow_level) * policy.wait_per_level_ms

    if level == 2:
        steps.append(Step("timing", {"mode": "hold"}))
    elif level >= 3:
        steps.append(Step("image", {}))

    if extra_wait:
        steps.append(Step("timing", {"mode": "wait", "wait_ms": extra_wait}))

    return tuple(steps)
