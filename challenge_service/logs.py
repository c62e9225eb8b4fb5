"""Logging set-up: the only place that adds handlers.

Module loggers are named after their module, so they sit under the
``challenge_service`` logger that this function configures. Log records never
carry a secret, a whole token or an IP address.
"""

from __future__ import annotations

import logging
import sys

from flask import Flask

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(app: Flask) -> None:
    """Send the service's logs to standard error unless a handler exists."""
    logger = logging.getLogger("challenge_service")

    if app.debug or app.testing:
        logger.setLevel(logging.DEBUG)
    elif logger.level == logging.NOTSET:
        logger.setLevel(logging.INFO)

    if logger.handlers:
        return

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(FORMAT))
    logger.addHandler(handler)
