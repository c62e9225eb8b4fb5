"""Daemon threads that run once in each worker process.

gunicorn builds the application in its master process and then forks the
workers. A fork inherits every object but no thread, so a component that
works in the background starts its thread lazily, once per process id, and
drops what it inherited from the master first.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class PeriodicTask:
    """Call ``task`` every ``seconds`` in a daemon thread of the current process."""

    def __init__(
        self,
        name: str,
        task: Callable[[], object],
        seconds: float,
        on_start: Callable[[], None] | None = None,
    ) -> None:
        self.name = name
        self.task = task
        self.seconds = seconds
        self.on_start = on_start
        self._started_in: int | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def ensure_started(self) -> None:
        """Start the thread unless this process has one; run ``task`` at exit too."""
        if self._started_in == os.getpid():
            return

        with self._lock:
            if self._started_in == os.getpid():
                return

            self._started_in = os.getpid()
            # A fresh event, because one inherited from the master may be set,
            # or locked by a master thread that the fork did not copy.
            self._wake = threading.Event()

            if self.on_start is not None:
                self.on_start()

        threading.Thread(target=self._loop, name=self.name, daemon=True).start()
        atexit.register(self.task)

    def wake(self) -> None:
        """Run ``task`` now instead of at the end of the current interval."""
        self._wake.set()

    def _loop(self) -> None:
        wake = self._wake

        while True:
            wake.wait(self.seconds)
            wake.clear()

            try:
                self.task()
            except Exception:  # noqa: BLE001 - the thread must survive any failure
                logger.exception("%s task failed", self.name)
