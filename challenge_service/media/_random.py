"""Argument checks and seeded random generators shared by the media modules."""

from __future__ import annotations

import hashlib

import numpy as np

#: Minimum secret length in bytes. The service passes 32.
MIN_SECRET_BYTES = 16


def check_secret(secret: bytes) -> None:
    """Raise TypeError unless ``secret`` is bytes, ValueError if it is too short."""
    if not isinstance(secret, (bytes, bytearray)):
        raise TypeError(
            f"The challenge secret must be bytes, not {type(secret).__name__};"
            " pass the 32-byte per-challenge secret."
        )
    if len(secret) < MIN_SECRET_BYTES:
        raise ValueError(
            f"The challenge secret has {len(secret)} bytes; pass at least"
            f" {MIN_SECRET_BYTES}, normally the 32-byte per-challenge secret."
        )


def style_bytes(style: int) -> bytes:
    """Return ``style`` as bytes for a seed; raise TypeError unless it is an int."""
    if isinstance(style, bool) or not isinstance(style, int):
        raise TypeError(
            f"The style must be an int, not {type(style).__name__} {style!r};"
            " pass the day's style number."
        )
    return str(style).encode()


def generator(*parts: bytes) -> np.random.Generator:
    """Return a numpy Generator seeded from the SHA-256 of ``parts``.

    Each part is prefixed with its length, so distinct lists of parts never
    give the same seed.
    """
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(4, "big"))
        digest.update(bytes(part))
    words = np.frombuffer(digest.digest(), dtype=np.uint32)
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(words)))
