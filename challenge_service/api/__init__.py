"""HTTP layer: parse requests, call the service, serialize the result."""

from __future__ import annotations

from flask import current_app
from flask import Flask

from ..service import ChallengeService


def current_service() -> ChallengeService:
    """Return the service of the current application."""
    return current_app.extensions["challenge_service"]


def register_blueprints(app: Flask) -> None:
    """Register every blueprint of the HTTP API."""
    from . import assets
    from . import challenges
    from . import health
    from . import media
    from . import siteverify
    from . import tickets

    app.register_blueprint(challenges.bp)
    app.register_blueprint(siteverify.bp)
    app.register_blueprint(assets.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(tickets.bp)
    app.register_blueprint(media.bp)
