"""Proof of work: find nonces whose SHA-256 starts with enough zero bits.

For each index ``i`` of ``puzzles`` sub-puzzles, the solution is a nonce such
that ``SHA-256(salt + ":" + i + ":" + nonce)`` starts with ``bits`` zero bits.
The time to solve one sub-puzzle is geometric with a long tail; the sum of K
independent ones has the same mean work but a relative spread smaller by a
factor of sqrt(K), so the 95th percentile stays under twice the median for
K >= 8.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from ..errors import InvalidRequest
from .base import Context
from .base import Verdict

#: (bits, puzzles) per level. Expected hashes are puzzles * 2**bits, from
#: about 1 M at level 0 to about 5 M at level 4. The widget's Web Worker solver
#: measured 4.7 M hashes/s in headless Chromium on a 2-vCPU server, so level 0
#: takes about 0.25 s there. Level 4 is the budget that a phone four times
#: slower meets in about 5 s.
LEVELS = {
    0: (16, 16),
    1: (17, 16),
    2: (17, 24),
    3: (18, 16),
    4: (18, 20),
}

#: Variants rotated by epoch: the same expected work split into more, easier
#: sub-puzzles or fewer, harder ones (never fewer than 8, to keep the spread
#: of solve times low), and salts of different lengths. Each entry is (change
#: of bits, factor on puzzles, salt length).
VARIANTS = {
    "standard": (0, 1.0, 22),
    "many-small": (-1, 2.0, 16),
    "few-large": (1, 0.5, 19),
}

#: Most sub-puzzles any variant asks for.
MAX_PUZZLES = max(
    int(puzzles * factor)
    for _, puzzles in LEVELS.values()
    for _, factor, _ in VARIANTS.values()
)

#: Nonces must be exact in a JavaScript number.
MAX_NONCE = 2**53

#: Characters of the random salt; with the index and the nonce the message
#: stays within one 55-byte SHA-256 block, which the widget's solver relies on.
SALT_LENGTH = 22


def leading_zero_bits(digest: bytes) -> int:
    """Return the number of zero bits at the start of ``digest``."""
    value = int.from_bytes(digest, "big")
    return len(digest) * 8 - value.bit_length()


def solve(salt: str, index: int, bits: int, start: int = 0) -> int:
    """Return the first nonce from ``start`` that solves one sub-puzzle.

    Used by tests and benchmarks; the browser solves with the widget.
    """
    # Hash the fixed prefix once; comparing digests as bytes is comparing them
    # as big-endian numbers.
    prefix = hashlib.sha256(f"{salt}:{index}:".encode())
    target = _target(bits)

    for nonce in range(start, MAX_NONCE):
        attempt = prefix.copy()
        attempt.update(b"%d" % nonce)

        if attempt.digest() < target:
            return nonce

    raise ValueError(f"No nonce from {start} solves puzzle {index}.")


def _target(bits: int) -> bytes:
    """Return the smallest digest that has fewer than ``bits`` leading zero bits."""
    return (1 << (256 - bits)).to_bytes(32, "big")


def cost(level: int, variant: str = "standard") -> tuple[int, int, int]:
    """Return (bits, puzzles, salt length) of ``variant`` at ``level``."""
    bits, puzzles = LEVELS[level]
    extra_bits, factor, salt_length = VARIANTS[variant]
    return bits + extra_bits, int(puzzles * factor), salt_length


class ProofOfWork:
    """Challenge kind ``pow``."""

    name = "pow"
    variants = tuple(VARIANTS)
    cognitive = False
    #: The proof of work runs unseen and shows no instructions.
    wordings = 0

    def build(self, context: Context, level: int | None = None) -> dict[str, Any]:
        """Build a challenge at ``level``, by default the level of the flow."""
        bits, puzzles, salt_length = cost(
            context.level if level is None else level, self.variants[context.variant]
        )
        salt = secrets.token_urlsafe(SALT_LENGTH)[:salt_length]
        return {
            "kind": self.name,
            "algorithm": "SHA-256",
            "salt": salt,
            "bits": bits,
            "puzzles": puzzles,
        }

    def parse_answer(self, raw: Any) -> list[int]:
        if not isinstance(raw, dict) or "nonces" not in raw:
            raise InvalidRequest(
                "answer must be an object with a 'nonces' list.", field="answer"
            )

        nonces = raw["nonces"]

        if not isinstance(nonces, list):
            raise InvalidRequest(
                "answer.nonces must be a list of integers.", field="answer.nonces"
            )

        if len(nonces) > MAX_PUZZLES:
            raise InvalidRequest(
                f"answer.nonces has {len(nonces)} items, more than any challenge"
                " asks for.",
                field="answer.nonces",
            )

        for position, nonce in enumerate(nonces):
            if isinstance(nonce, bool) or not isinstance(nonce, int):
                raise InvalidRequest(
                    f"answer.nonces[{position}] must be an integer.",
                    field="answer.nonces",
                )

            if not 0 <= nonce < MAX_NONCE:
                raise InvalidRequest(
                    f"answer.nonces[{position}] must be between 0 and 2^53 - 1.",
                    field="answer.nonces",
                )

        return nonces

    def check(
        self, params: dict[str, Any], answer: list[int], context: Context
    ) -> Verdict:
        if len(answer) != params["puzzles"]:
            return Verdict(False, "nonce-count")

        target = _target(params["bits"])
        salt = params["salt"]

        for index, nonce in enumerate(answer):
            digest = hashlib.sha256(f"{salt}:{index}:{nonce}".encode()).digest()

            if digest >= target:
                return Verdict(False, "hash-above-target")

        return Verdict(True)
