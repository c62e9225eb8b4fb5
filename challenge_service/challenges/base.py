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


class ChallengeKind(Protocol):
    """One kind of challenge: build, show and check.

    ``build`` returns the parameters of a new challenge. They are signed into
    the envelope and sent to the browser, so they must never contain the
    expected answer.
    """

    name: str

    def build(self, level: int) -> dict[str, Any]:
        """Return the public parameters of a new challenge at ``level``."""

    def parse_answer(self, raw: Any) -> Any:
        """Validate the shape of an answer; raise InvalidRequest naming the field."""

    def check(self, params: dict[str, Any], answer: Any) -> Verdict:
        """Check a parsed answer against the parameters of its challenge."""
