"""The interface that every challenge kind implements."""

from __future__ import annotations

import dataclasses
from typing import Any
from typing import Protocol


@dataclasses.dataclass(frozen=True)
class Verdict:
    """Result of checking an answer; a wrong answer is a result, not an error."""

    correct: bool
    #: Short reason for a wrong answer, for logs; never contains the answer.
    reason: str = ""


@dataclasses.dataclass(frozen=True)
class Context:
    """What a kind may use to build or check one challenge.

    Times come from the service's clock only, never from the browser.
    """

    challenge_id: str
    level: int
    lang: str
    #: Index into the kind's ``variants``, chosen for the epoch of issue.
    variant: int
    #: Seed of the epoch's drawing parameters for this kind.
    style: int
    #: Per-challenge secret derived from a signing key; never sent anywhere.
    secret: bytes
    #: Server time of issue and of the check, in seconds.
    issued_at: float
    now: float


class ChallengeKind(Protocol):
    """One kind of challenge: build, show and check.

    ``build`` returns the parameters of a new challenge. They are signed into
    the envelope and sent to the browser, so they must never contain the
    expected answer; a kind that hides an answer derives it from
    ``Context.secret`` when it checks.
    """

    name: str
    #: Names of the variants that the epochs rotate through; at least two.
    variants: tuple[str, ...]
    #: Whether the kind asks a person to read, listen or count.
    cognitive: bool
    #: Number of wordings of the instructions that the widget shows, or 0
    #: for a kind that shows none. The epochs rotate through them like the
    #: variants, and the service sends the index as the parameter ``wording``.
    wordings: int

    def build(self, context: Context, **options: Any) -> dict[str, Any]:
        """Return the public parameters of a new challenge."""

    def parse_answer(self, raw: Any) -> Any:
        """Validate the shape of an answer; raise InvalidRequest naming the field."""

    def check(self, params: dict[str, Any], answer: Any, context: Context) -> Verdict:
        """Check a parsed answer against the parameters of its challenge."""
