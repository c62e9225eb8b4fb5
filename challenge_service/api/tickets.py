"""Blueprint ``tickets``: risk tickets that a portal's back end requests.

The portal calls this endpoint server to server with its site secret, before
it renders the page with the widget, and writes the ticket into the widget's
``data-risk-ticket`` attribute.
"""

from __future__ import annotations


from flask import Blueprint
from flask import jsonify
from flask import Response

from ..errors import ServiceError
from ..service import isoformat
from ..tickets import MAX_REASONS
from ..tickets import REASON_CODE
from . import current_service
from .schemas import ACTION
from .schemas import json_body
from .schemas import string_field
from ..errors import InvalidRequest

bp = Blueprint("tickets", __name__, url_prefix="/api/v1")


class InvalidSecret(ServiceError):
    """Raised when the secret of a server-to-server call names no site."""

    status = 403
    code = "invalid-secret"


@bp.post("/risk-tickets")
def create_ticket() -> tuple[Response, int]:
    """Sign a risk ticket for a subject and an action of the secret's site."""
    service = current_service()
    body = json_body()
    secret = string_field(body, "secret", 128)
    subject = string_field(body, "subject", 128)
    action = string_field(body, "action", 32, pattern=ACTION)

    if not subject.strip():
        raise InvalidRequest(
            "subject is blank; send the portal's opaque id of the account or"
            " household.",
            field="subject",
        )

    risk = body.get("risk")

    # 0 <= risk <= 1 is false for NaN, and compares huge integers exactly.
    if (
        isinstance(risk, bool)
        or not isinstance(risk, (int, float))
        or not 0 <= risk <= 1
    ):
        raise InvalidRequest(
            "risk must be a number from 0.0 (trusted) to 1.0 (surely automated).",
            field="risk",
        )

    reasons = body.get("reasons", [])

    if (
        not isinstance(reasons, list)
        or len(reasons) > MAX_REASONS
        or not all(
            isinstance(code, str) and REASON_CODE.fullmatch(code) for code in reasons
        )
    ):
        raise InvalidRequest(
            f"reasons must be a list of at most {MAX_REASONS} short codes of"
            " lowercase letters, digits, '.', '_' and '-'.",
            field="reasons",
        )

    now = service.clock()
    site = service.site_by_secret(secret, now)

    if site is None:
        raise InvalidSecret(
            "secret is not the secret of any site; send the site secret that"
            " `challenge-service sites add` printed.",
            field="secret",
        )

    ticket, expires_at = service.tickets.sign(
        # Adding 0.0 turns -0.0 into 0.0, so the ticket signs one zero.
        site, action, subject, float(risk) + 0.0, reasons, now
    )
    return jsonify(
        {
            "risk_ticket": ticket,
            "expires_at": isoformat(expires_at),
            "expires_in": int(expires_at - now),
        }
    ), 201
