"""Rotation of challenge variants by epoch.

An epoch is a fixed span of server time (a day by default). For every kind,
the epoch selects one of the kind's variants and a style seed for its drawing
parameters, both derived from the newest signing key, so a bot tuned to one
day's variant meets another the next day, and nobody can predict tomorrow's
without the key. Consecutive epochs always select different variants: the
index walks through the variant list from a key-derived offset. The service
selects the wording of each kind's instructions the same way, under the
label ``wording:KIND``. A challenge carries its parameters in its envelope,
so one issued just before a change stays valid until it expires.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

#: Derives a secret from a label with the newest signing key.
Derive = Callable[[str], tuple[str, bytes]]


@dataclasses.dataclass(frozen=True)
class Selection:
    """The variant and style of one kind in one epoch."""

    epoch: int
    variant: int
    style: int


class Rotation:
    """Select each kind's variant for the epoch that contains a time."""

    def __init__(self, derive: Derive, epoch_seconds: int) -> None:
        if epoch_seconds <= 0:
            raise ValueError("epoch_seconds must be positive.")

        self._derive = derive
        self.epoch_seconds = epoch_seconds

    def epoch(self, now: float) -> int:
        """Return the number of the epoch that contains ``now``."""
        return int(now // self.epoch_seconds)

    def select(self, kind: str, variant_count: int, now: float) -> Selection:
        """Return the variant index and style seed of ``kind`` at ``now``."""
        if variant_count < 1:
            raise ValueError(f"Kind {kind!r} has no variants.")

        epoch = self.epoch(now)
        _, offset = self._derive(f"variant-offset:{kind}")
        _, style = self._derive(f"style:{kind}:{epoch}")
        variant = (int.from_bytes(offset[:4], "big") + epoch) % variant_count
        return Selection(epoch, variant, int.from_bytes(style[:8], "big"))
