"""Self-hosted adaptive challenge service for public booking portals."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from flask import Flask
from flask import request
from flask import Response

from . import config as config_module
from . import errors
from . import logs
from .api import register_blueprints
from .service import ChallengeService
from .service import Settings
from .signing import Signer
from .storage import SQLiteStore

DATABASE_NAME = "challenge-service.sqlite3"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the service from the environment, then ``test_config`` on top.

    :raises config.ConfigError: if a setting is missing or invalid.
    """
    # Settings: defaults, then the environment, then the caller's overrides.
    settings = dict(config_module.DEFAULTS)
    settings.update(config_module.load_env())
    settings.update(test_config or {})
    data_dir = Path(settings["DATA_DIR"]).resolve()

    if settings["DEMO"] and not settings["SIGNING_KEYS"]:
        settings["SIGNING_KEYS"] = config_module.demo_keys(data_dir)

    config_module.validate(settings)

    app = Flask(__name__, static_folder=None)
    app.config.update(settings)
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_BODY_BYTES"]
    app.config["DATA_DIR"] = str(data_dir)
    logs.configure_logging(app)

    # The flow and its parts.
    store = settings.get("STORE") or SQLiteStore(data_dir / DATABASE_NAME)
    service = ChallengeService(
        store=store,
        signer=Signer(settings["SIGNING_KEYS"]),
        settings=Settings(
            challenge_ttl=settings["CHALLENGE_TTL"], token_ttl=settings["TOKEN_TTL"]
        ),
        clock=settings.get("CLOCK") or time.time,
    )
    app.extensions["challenge_service"] = service

    # HTTP: error handlers, blueprints, headers.
    errors.init_app(app)
    register_blueprints(app)
    app.after_request(_security_headers)
    return app


def _security_headers(response: Response) -> Response:
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")

    if request.path.startswith("/api/"):
        response.headers["Cache-Control"] = "no-store"

    return response
