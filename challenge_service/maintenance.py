"""The automatic purge of expired records, old audit events and rate data.

Every worker process runs a daemon thread that wakes up every
``interval`` seconds; the first process of all instances to claim the
interval in the shared store purges, the others go back to sleep. The
``challenge-service purge`` command does the same work on demand.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .background import PeriodicTask
from .errors import StoreUnavailable
from .signals import forget_day_keys
from .storage import Store

logger = logging.getLogger(__name__)


def purge(
    store: Store, now: float, audit_retention: float, rate_retention: float
) -> dict[str, int]:
    """Delete expired and old records and past days' hashing keys; return counts by kind."""
    deleted = store.purge(now, audit_retention, rate_retention)
    deleted["hash-keys"] = forget_day_keys(store, now)
    return deleted


class PurgeJob:
    """Purge the store once per interval across every process and instance."""

    def __init__(
        self,
        store: Store,
        clock: Callable[[], float],
        audit_retention: int,
        rate_retention: int,
        interval: int,
    ) -> None:
        self.store = store
        self.clock = clock
        self.audit_retention = audit_retention
        self.rate_retention = rate_retention
        self.interval = interval
        # Each wait lasts from half the interval to all of it, to spread the
        # processes over the interval, so that they rarely race.
        self._thread = PeriodicTask(
            "purge", self._run_logged, interval, jitter=0.5, at_exit=False
        )

    def purge(self) -> dict[str, int]:
        """Purge now; return the number of records deleted, by kind."""
        return purge(self.store, self.clock(), self.audit_retention, self.rate_retention)

    def run_if_due(self) -> dict[str, int] | None:
        """Purge unless another process purged within the interval."""
        now = self.clock()

        # The counter's window is the interval, so only the first claim of
        # each window counts 1.
        if self.store.hit("purge-job", "all", self.interval, now) != 1:
            return None

        deleted = self.purge()
        logger.info(
            "purged %s", ", ".join(f"{n} {kind}" for kind, n in deleted.items())
        )
        return deleted

    def start(self) -> None:
        """Start the thread of this process, once; a forked worker starts its own."""
        if self.interval:
            self._thread.ensure_started()

    def _run_logged(self) -> None:
        try:
            self.run_if_due()
        except (StoreUnavailable, OSError) as error:
            logger.warning("purge failed, retrying at the next interval: %s", error)
