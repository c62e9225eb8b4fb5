"""The automatic purge of expired records, old audit events and rate data.

Every worker process runs a daemon thread that wakes up every
``interval`` seconds; the first process of all instances to claim the
interval in the shared store purges, the others go back to sleep. The
``challenge-service purge`` command does the same work on demand.
"""

from __future__ import annotations

import logging
import os
import random
import threading
from collections.abc import Callable

from .errors import StoreUnavailable
from .storage import Store

logger = logging.getLogger(__name__)


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
        self._started_in: int | None = None
        self._lock = threading.Lock()

    def purge(self) -> dict[str, int]:
        """Purge now; return the number of records deleted, by kind."""
        return self.store.purge(self.clock(), self.audit_retention, self.rate_retention)

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
        if not self.interval:
            return

        with self._lock:
            if self._started_in == os.getpid():
                return

            self._started_in = os.getpid()

        thread = threading.Thread(target=self._loop, name="purge", daemon=True)
        thread.start()

    def _loop(self) -> None:
        event = threading.Event()

        while True:
            # Spread the processes over the interval, so they rarely race.
            event.wait(self.interval * random.uniform(0.5, 1.0))

            try:
                self.run_if_due()
            except (StoreUnavailable, OSError) as error:
                logger.warning("purge failed, retrying at the next interval: %s", error)
