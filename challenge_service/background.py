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
import random
import threading
from collections.abc import Callable

logger = logging.getLogger(__name__)


class PeriodicTask:
    """Call ``task`` every ``seconds`` in a daemon thread of the current process.

    With ``jitter`` from 0 to 1, each wait is shortened by a random share of
    up to ``jitter``, so that processes started together spread out. With
    ``at_exit``, the task also runs when the process exits.
    """

    def __init__(
        self,
        name: str,
        task: Callable[[], object],
        seconds: float,
        on_start: Callable[[], None] | None = None,
        jitter: float = 0.0,
        at_exit: bool = True,
    ) -> None:
        self.name = name
        self.task = task
        self.seconds = seconds
        self.on_start = on_start
        self.jitter = jitter
        self.at_exit = at_exit
        self._started_in: int | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()

    def ensure_started(self) -> None:
        """Start the thread unless this process has one."""
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

        if self.at_exit:
            atexit.register(self.task)

    def wake(self) -> None:
        """Run ``task`` now instead of at the end of the current interval."""
        self._wake.set()

    def _loop(self) -> None:
        wake = self._wake

        while True:
            wake.wait(self.seconds * (1 - random.uniform(0, self.jitter)))
            wake.clear()

            try:
                self.task()
            except Exception:  # noqa: BLE001 - the thread must survive any failure
                logger.exception("%s task failed", self.name)
