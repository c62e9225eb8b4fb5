"""Blueprint ``health``: liveness and store state for load balancers."""

from __future__ import annotations

from flask import Blueprint
from flask import jsonify
from flask import Response

from ..errors import StoreUnavailable
from . import current_service

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def health() -> tuple[Response, int]:
    """Report whether the service can reach its store."""
    try:
        current_service().store.check()
    except StoreUnavailable:
        return jsonify({"status": "unavailable", "store": "unavailable"}), 503

    return jsonify({"status": "ok", "store": "ok"}), 200
