"""Timing challenges: press and hold, or wait, checked by the server's clock.

In ``hold`` mode the person holds a button, or the Space or Enter key, for
``hold_ms``; in ``wait`` mode nothing is asked and the widget counts down
``wait_ms``. Either way the answer is accepted only once that long has passed
on the service's clock since the challenge was issued. The browser's clock
plays no part: a device whose clock is hours off passes like any other, and a
bot cannot buy the time back with hardware. What the widget reports (how long
the key was held, with which input) is never taken as proof: a hold reported
as longer than the time the server saw pass counts as a ``fast-answer``
signal for the risk policy.
"""

from __future__ import annotations

import secrets
from typing import Any

from ..errors import InvalidRequest
from .base import Context
from .base import Verdict

#: Hold ranges in milliseconds, rotated by epoch.
VARIANTS = {
    "brisk": (1500, 2200),
    "steady": (2000, 3000),
    "measured": (1800, 2600),
}

#: Minimum wait in milliseconds per level, when the policy sets none.
WAIT_MS = {0: 3000, 1: 3000, 2: 5000, 3: 8000, 4: 12000}

#: Maximum wait of a wait step, in milliseconds; longer requests are capped.
MAX_WAIT_MS = 60_000

MODES = ("hold", "wait")

#: Inputs the widget may report for a hold.
INPUTS = ("pointer", "touch", "key")


class Timing:
    """Challenge kind ``timing``."""

    name = "timing"
    variants = tuple(VARIANTS)
    cognitive = False
    #: Phrasings of the hold and wait instructions in the widget's i18n.js.
    wordings = 3

    def build(
        self, context: Context, mode: str = "hold", wait_ms: int | None = None
    ) -> dict[str, Any]:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}.")

        if mode == "wait":
            duration = WAIT_MS[context.level] if wait_ms is None else wait_ms
            return {
                "kind": self.name,
                "mode": "wait",
                "wait_ms": min(max(duration, 0), MAX_WAIT_MS),
                "alternatives": [],
            }

        low, high = VARIANTS[self.variants[context.variant]]
        hold_ms = low + secrets.randbelow(high - low + 1)
        return {
            "kind": self.name,
            "mode": "hold",
            "hold_ms": hold_ms,
            # Holding a key is hard for some people; waiting asks nothing.
            "alternatives": [{"kind": self.name, "mode": "wait"}],
        }

    def parse_answer(self, raw: Any) -> dict[str, Any]:
        if not isinstance(raw, dict):
            raise InvalidRequest(
                "answer must be an object, with 'held_ms' and 'input' after a hold.",
                field="answer",
            )

        held_ms = raw.get("held_ms")

        if held_ms is not None and (
            isinstance(held_ms, bool)
            or not isinstance(held_ms, (int, float))
            or not 0 <= held_ms <= 600_000
        ):
            raise InvalidRequest(
                "answer.held_ms must be a number of milliseconds from 0 to 600000.",
                field="answer.held_ms",
            )

        source = raw.get("input")

        if source is not None and source not in INPUTS:
            raise InvalidRequest(
                f"answer.input must be one of {', '.join(INPUTS)}.",
                field="answer.input",
            )

        return {"held_ms": held_ms, "input": source}

    def check(
        self, params: dict[str, Any], answer: dict[str, Any], context: Context
    ) -> Verdict:
        if params["mode"] == "hold":
            held_ms = answer["held_ms"]

            if held_ms is None or held_ms < params["hold_ms"]:
                return Verdict(False, "released-early")

        return Verdict(True)

    def required_ms(self, params: dict[str, Any]) -> int:
        """Return how long after issue, on the server's clock, an answer may come."""
        return params["hold_ms"] if params["mode"] == "hold" else params["wait_ms"]
