"""Registry of challenge kinds."""

from __future__ import annotations

from .base import ChallengeKind
from .base import Context as Context
from .base import Verdict as Verdict
from .proof_of_work import ProofOfWork
from .image import Image
from .timing import Timing

_KINDS: dict[str, ChallengeKind] = {}


class UnknownKind(LookupError):
    """Raised when no challenge kind has the requested name."""


def register(kind: ChallengeKind) -> None:
    """Make ``kind`` available under its name."""
    _KINDS[kind.name] = kind


def get(name: str) -> ChallengeKind:
    """Return the kind called ``name``."""
    try:
        return _KINDS[name]
    except KeyError:
        raise UnknownKind(
            f"No challenge kind is called {name!r}; known kinds: {names()}."
        ) from None


def names() -> list[str]:
    """Return the names of the registered kinds."""
    return sorted(_KINDS)


register(ProofOfWork())
register(Timing())
register(Image())
