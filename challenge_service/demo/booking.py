"""Checks of a booking request, and the rejection that each failed check gives."""

from __future__ import annotations

import dataclasses
import datetime
import logging
import unicodedata
from typing import Any

from .slots import SlotBook

logger = logging.getLogger(__name__)

#: Maximum length of a name, in characters.
MAX_NAME_LENGTH = 80

#: Unicode categories rejected in a name: control characters and surrogates.
#: Format characters stay allowed, since names in Persian and other scripts
#: need the zero-width non-joiner.
NAME_FORBIDDEN = frozenset({"Cc", "Cs"})

#: Maximum length of a pass token sent to siteverify, the service's own limit.
MAX_TOKEN_LENGTH = 2048

#: The action the page's widget declares in ``data-action``.
ACTION = "book"

#: Bookings a household may make, and the window in seconds that counts them:
#: the demo site's quota, which ``serve --demo`` sets.
HOUSEHOLD_QUOTA = (2, 7 * 86400)

#: siteverify error codes that mean the portal itself is set up wrongly.
CONFIGURATION_CODES = frozenset(
    {
        "missing-input-secret",
        "invalid-input-secret",
        "sitekey-secret-mismatch",
        "invalid-remoteip",
        "bad-request",
    }
)


@dataclasses.dataclass(frozen=True)
class Rejection:
    """Reason to reject a booking request."""

    #: Key of the sentence in ``messages.REJECTIONS``.
    reason: str

    #: HTTP status of the page that shows the rejection.
    status: int

    #: Form part at fault: ``name``, ``slot`` or ``verification``.
    field: str

    #: With ``quota-exceeded``: when the household can book again.
    frees_at: datetime.datetime | None = None


def check_fields(form: dict[str, str], book: SlotBook) -> list[Rejection]:
    """Check the name, the slot and the presence of a pass token."""
    rejections = []
    name = form.get("name", "").strip()
    slot_id = form.get("slot", "")
    token = form.get("challenge-response", "")

    if not name:
        rejections.append(Rejection("name-missing", 400, "name"))
    elif len(name) > MAX_NAME_LENGTH:
        rejections.append(Rejection("name-too-long", 400, "name"))
    elif any(unicodedata.category(char) in NAME_FORBIDDEN for char in name):
        rejections.append(Rejection("name-invalid", 400, "name"))

    if not slot_id:
        rejections.append(Rejection("slot-missing", 400, "slot"))
    elif book.get(slot_id) is None:
        rejections.append(Rejection("slot-unknown", 400, "slot"))

    if not token:
        rejections.append(Rejection("verification-missing", 400, "verification"))
    elif len(token) > MAX_TOKEN_LENGTH:
        rejections.append(Rejection("verification-invalid", 400, "verification"))

    return rejections


def check_verdict(result: dict[str, Any], hostname: str) -> Rejection | None:
    """Return why a siteverify result rejects the booking, or None if it passes.

    A passing token must also have been made for this form's action and on
    this portal's hostname, since a token from another form of the same site
    would verify too. Its flow must have used the page's risk ticket: the
    widget sends the ticket from the browser, so a script can leave it out
    and get the site's default risk instead.
    """
    if result["success"]:
        if result.get("action") != ACTION:
            logger.warning("pass token rejected: action=%r", result.get("action"))
            return Rejection("verification-action", 400, "verification")

        if result.get("hostname") != hostname:
            logger.warning("pass token rejected: made on another hostname")
            return Rejection("verification-invalid", 400, "verification")

        if result.get("risk_ticket") is not True:
            logger.warning("pass token rejected: its flow used no risk ticket")
            return Rejection("verification-no-ticket", 400, "verification")

        return None

    codes = result.get("error-codes") or []

    if "quota-exceeded" in codes:
        return _quota_rejection(result.get("quota_frees_at"))

    return _rejection_for_codes(codes)


def _quota_rejection(frees_at: Any) -> Rejection:
    """Return the rejection of a household over its quota, with when it frees."""
    try:
        moment = datetime.datetime.fromisoformat(frees_at)
    except (TypeError, ValueError):
        moment = None

    if moment is None or moment.tzinfo is None:
        logger.error(
            "siteverify returned quota-exceeded without a valid quota_frees_at"
        )
        return Rejection("quota-exceeded-undated", 429, "verification")

    return Rejection("quota-exceeded", 429, "verification", frees_at=moment)


def _rejection_for_codes(codes: list[str]) -> Rejection:
    if "already-seen-response" in codes:
        return Rejection("verification-duplicate", 400, "verification")

    if "timeout-or-duplicate" in codes:
        return Rejection("verification-expired", 400, "verification")

    if "missing-input-response" in codes:
        return Rejection("verification-missing", 400, "verification")

    if "invalid-input-response" in codes:
        return Rejection("verification-invalid", 400, "verification")

    if "internal-error" in codes:
        logger.error("siteverify reported an internal error")
        return Rejection("service-unavailable", 503, "verification")

    if CONFIGURATION_CODES.intersection(codes):
        logger.error("siteverify rejected the portal's request: %s", codes)
        return Rejection("portal-misconfigured", 500, "verification")

    logger.error("siteverify returned unknown error codes: %s", codes)
    return Rejection("verification-invalid", 400, "verification")
