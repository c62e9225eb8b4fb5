"""The simulated signed-in household, and the risk ticket the portal gets for it.

A real portal identifies its visitor by their sign-in. The demo has no accounts,
so a cookie with an opaque random id plays the household's part: clearing
the cookie makes a new household, which a real account would not allow.
"""

from __future__ import annotations

import logging
import re
import secrets

from flask import current_app
from flask import g
from flask import request
from flask import Response

from .booking import ACTION
from .siteverify import request_risk_ticket
from .siteverify import RiskTicket
from .siteverify import ServiceCallFailed

logger = logging.getLogger(__name__)

#: Name of the cookie that contains the household id.
COOKIE = "household"

#: Seconds the browser keeps the household, longer than the week of the quota.
COOKIE_MAX_AGE = 30 * 86400

#: Shape of the ids that :func:`household_id` makes. A cookie of another
#: shape is replaced with a new id.
ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{22}")

#: Risk score of a signed-in household, which the demo trusts.
RISK = 0.1

#: Reason codes signed into the ticket. The visitor can read them.
REASONS = ["signed-in"]


def cookie_household_id() -> str | None:
    """Return the cookie's household id, or None for a missing or malformed cookie."""
    cookie = request.cookies.get(COOKIE, "")
    return cookie if ID_PATTERN.fullmatch(cookie) else None


def household_id() -> str:
    """Return the visitor's household id, making a new one on a first visit."""
    known = cookie_household_id()

    if known is not None:
        return known

    if "new_household" not in g:
        g.new_household = secrets.token_urlsafe(16)

    return g.new_household


def set_cookie(response: Response) -> Response:
    """Set the household cookie on ``response`` if this request made a household."""
    if "new_household" in g:
        response.set_cookie(
            COOKIE,
            g.new_household,
            max_age=COOKIE_MAX_AGE,
            path="/demo",
            secure=request.is_secure,
            httponly=True,
            samesite="Lax",
        )

    return response


def request_ticket(subject: str) -> RiskTicket:
    """Request a ticket for the booking of the household ``subject``.

    :raises ServiceCallFailed: if the service gives no ticket.
    """
    config = current_app.config
    fields = {
        "subject": subject,
        "risk": RISK,
        "action": ACTION,
        "reasons": REASONS,
    }
    return request_risk_ticket(config["SERVICE_URL"], config["SITE_SECRET"], fields)


def risk_ticket() -> RiskTicket | None:
    """Return a ticket for the household's booking, or None if the service gives none.

    The page then renders without a ticket. Its challenge request fails if
    the site's policy requires a ticket, and otherwise the booking does,
    since the portal rejects a verdict without ``risk_ticket``.
    """
    try:
        return request_ticket(household_id())
    except ServiceCallFailed as error:
        logger.error("risk ticket request failed, page rendered without one: %s", error)
        return None
