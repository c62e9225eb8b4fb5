"""The audit trail: one event per challenge request, answer and verification.

Writing each event in its own store transaction would add a second write to
every verification, the service's hot path. Events are therefore queued in
the process and written in batches, one transaction or pipeline per batch,
every ``flush_ms`` milliseconds by a daemon thread, and when the process
exits. With ``flush_ms=0`` every event is written at once.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Any

from .background import PeriodicTask
from .errors import StoreUnavailable
from .storage import Store

logger = logging.getLogger(__name__)

#: Events kept in the queue; past this, the oldest are dropped.
MAX_QUEUED = 10_000

#: Queue length at which the thread writes at once instead of at its interval.
EARLY_FLUSH = MAX_QUEUED // 4


class AuditLog:
    """Queue audit events and write them to the store in batches."""

    def __init__(self, store: Store, flush_ms: int) -> None:
        self.store = store
        self.flush_ms = flush_ms
        self._queue: collections.deque[tuple[dict[str, Any], float]] = (
            collections.deque(maxlen=MAX_QUEUED)
        )
        self._lock = threading.Lock()
        #: Held for a whole write, so that a flush returns only after the
        #: events queued before it are stored, even those that the thread
        #: had taken and was writing, at exit too.
        self._write_lock = threading.Lock()
        self._dropped = 0
        #: Whether the last write failed; then only the interval retries it.
        self._failing = False
        self._thread = PeriodicTask(
            "audit", self.flush, flush_ms / 1000, on_start=self._queue.clear
        )

    def record(self, event: dict[str, Any], now: float) -> None:
        """Record ``event`` at ``now``: at once, or with the next batch."""
        if not self.flush_ms:
            self.store.record_event(event, now)
            return

        self._thread.ensure_started()

        with self._lock:
            if len(self._queue) == MAX_QUEUED:
                self._dropped += 1

            self._queue.append((event, now))
            queued = len(self._queue)

        # A burst must not fill the queue before the interval ends.
        if queued >= EARLY_FLUSH and not self._failing:
            self._thread.wake()

    def pending(self) -> int:
        """Return how many events wait in the queue."""
        with self._lock:
            return len(self._queue)

    def flush(self) -> int:
        """Write the queued events; return how many were written."""
        with self._write_lock:
            return self._write_queued()

    def _write_queued(self) -> int:
        with self._lock:
            batch = list(self._queue)
            self._queue.clear()
            dropped, self._dropped = self._dropped, 0

        if dropped:
            logger.warning(
                "dropped %d audit events: the queue was full, because the store"
                " was unavailable or events came faster than it took them",
                dropped,
            )

        if not batch:
            return 0

        try:
            self.store.record_events(batch)
        except StoreUnavailable as error:
            self._failing = True

            # Keep the batch for the next attempt, in front of newer events.
            # A full queue drops the newest, and counts them as dropped.
            with self._lock:
                overflow = len(self._queue) + len(batch) - MAX_QUEUED

                if overflow > 0:
                    self._dropped += overflow

                self._queue.extendleft(reversed(batch))

            logger.warning(
                "failed to write %d audit events, retrying: %s", len(batch), error
            )
            return 0

        self._failing = False
        return len(batch)
