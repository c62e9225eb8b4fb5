"""Blueprint ``demo``: the booking page and handler, ticket refresh, static files."""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint
from flask import current_app
from flask import jsonify
from flask import make_response
from flask import redirect
from flask import render_template
from flask import request
from flask import Response
from flask import send_from_directory
from flask import url_for
from werkzeug.exceptions import ClientDisconnected
from werkzeug.exceptions import HTTPException

from ..api.assets import asset_root
from ..errors import log_unreadable_body
from ..errors import logged_route
from ..errors import UNREADABLE_BODY
from . import household
from . import messages
from .booking import check_fields
from .booking import check_verdict
from .booking import MAX_NAME_LENGTH
from .booking import Rejection
from .security import is_same_origin_script
from .security import SCRIPT_HEADER
from .siteverify import ServiceCallFailed
from .siteverify import verify_token
from .slots import Reservation
from .slots import SlotBook

logger = logging.getLogger(__name__)

bp = Blueprint("demo", __name__)
bp.after_request(household.set_cookie)

#: Seconds browsers may cache the demo's CSS and script.
STATIC_MAX_AGE = 300

#: Seconds that the page's script waits before it requests a ticket again
#: after the service gave none.
TICKET_RETRY_AFTER = 10


def _lang() -> str:
    lang = request.args.get("lang", "fr")
    return lang if lang in messages.LANGUAGES else "fr"


def _slot_book() -> SlotBook:
    return current_app.extensions["demo_slots"]


def _index_url(lang: str) -> str:
    return url_for("demo.index", lang="en") if lang == "en" else url_for("demo.index")


def _page_context(lang: str) -> dict[str, Any]:
    """Return what the base template needs: texts and the language link."""
    other = "fr" if lang == "en" else "en"
    return {
        "lang": lang,
        "t": messages.texts(lang),
        "other_lang": other,
        "other_lang_url": _index_url(other),
        "index_url": _index_url(lang),
    }


@bp.get("/")
def root() -> Response:
    """Send visitors of the bare origin to the booking page."""
    return redirect(url_for("demo.index"))


@bp.get("/demo/")
def index() -> str:
    """Show the booking form with a fresh widget."""
    return render_template("book.html", **_form_context(_lang(), {}, []))


@bp.get("/demo/book")
def book_form() -> Response:
    """Send a reload of the result page back to the form."""
    return redirect(_index_url(_lang()))


@bp.post("/demo/book")
def book() -> tuple[str, int]:
    """Check the form and the pass token, then take a place in the slot."""
    lang = _lang()

    # A body shorter than its Content-Length may still parse, and would
    # book a slot under a truncated name.
    try:
        data = request.get_data(cache=True)
    except ClientDisconnected:
        data = b""

    if len(data) < (request.content_length or 0):
        return _error_page(400)

    form = request.form.to_dict(flat=True)
    slot_book = _slot_book()
    rejections = check_fields(form, slot_book)

    if not rejections:
        rejections = _verify(form["challenge-response"])

    if not rejections and slot_book.reserve(form["slot"]) is Reservation.FULL:
        # The token is spent now, as on a real portal that checks the
        # verification before it locks the slot.
        rejections = [Rejection("slot-full", 409, "slot")]

    if rejections:
        # Only a known slot id is logged, so that no typed text reaches the log.
        known_slot = slot_book.get(form.get("slot", ""))
        logger.info(
            "booking rejected slot=%s reasons=%s",
            known_slot.id if known_slot else "-",
            ",".join(rejection.reason for rejection in rejections),
        )
        status = max(rejection.status for rejection in rejections)
        context = _form_context(lang, form, rejections)
        return render_template("book.html", **context), status

    slot = slot_book.get(form["slot"])
    logger.info("booking confirmed slot=%s", slot.id)
    return render_template(
        "confirmed.html",
        **_page_context(lang),
        name=form["name"].strip(),
        slot_label=slot.label(lang),
        reference="AQ-" + secrets.token_hex(3).upper(),
    ), 200


@bp.get("/demo/risk-ticket")
def risk_ticket() -> Response:
    """Return a new risk ticket for the cookie's household, as JSON.

    A booking page that stays open longer than a ticket's lifetime fetches
    a new ticket here and writes it into the widget's ``data-risk-ticket``,
    so that a person who takes their time still sends a valid one. Only the
    page's own scripts may read a ticket (see :func:`is_same_origin_script`),
    and a missing or malformed cookie gets an error, not a new household.
    """
    if not is_same_origin_script(request.headers):
        logger.warning("risk ticket request rejected: not from the page's script")
        return _ticket_error(
            403,
            "cross-origin-request",
            "Only the booking page's own script may request a risk ticket:"
            f" send a same-origin fetch() with the {SCRIPT_HEADER} header.",
        )

    subject = household.cookie_household_id()

    if subject is None:
        logger.info("risk ticket request rejected: no valid household cookie")
        return _ticket_error(
            400,
            "no-household",
            f"The {household.COOKIE} cookie is missing or malformed. Load the"
            " booking page, which sets it, then request the ticket again.",
        )

    try:
        ticket = household.request_ticket(subject)
    except ServiceCallFailed as error:
        logger.error("risk ticket refresh failed: %s", error)
        response = _ticket_error(
            503,
            "ticket-unavailable",
            "The check service gave no risk ticket. Request one again after"
            f" {TICKET_RETRY_AFTER} seconds.",
        )
        response.headers["Retry-After"] = str(TICKET_RETRY_AFTER)
        return response

    return _no_store(
        jsonify({"risk_ticket": ticket.value, "expires_in": ticket.expires_in})
    )


def _ticket_error(status: int, code: str, message: str) -> Response:
    """Return a JSON error of the ticket endpoint."""
    response = _no_store(jsonify({"error": code, "message": message}))
    response.status_code = status
    return response


def _no_store(response: Response) -> Response:
    # A ticket is bound to one household, so no cache may keep it.
    response.headers["Cache-Control"] = "no-store"
    return response


def _verify(token: str) -> list[Rejection]:
    """Check the pass token with the service and return the rejections it causes."""
    config = current_app.config

    try:
        result = verify_token(
            config["SERVICE_URL"], config["SITE_SECRET"], config["SITEKEY"], token
        )
    except ServiceCallFailed as error:
        logger.error("siteverify unavailable: %s", error)
        return [Rejection("service-unavailable", 503, "verification")]

    hostname = urlsplit("//" + request.host).hostname or ""
    rejection = check_verdict(result, hostname)
    return [] if rejection is None else [rejection]


def _form_context(
    lang: str, form: dict[str, str], rejections: list[Rejection]
) -> dict[str, Any]:
    """Return the booking form's template context, keeping what was typed."""
    slot_book = _slot_book()
    remaining = slot_book.remaining_by_slot()
    chosen = form.get("slot", "")
    slots = []

    for slot in slot_book.slots():
        slots.append(
            {
                "id": slot.id,
                "label": slot.label(lang),
                "places": messages.places_left(lang, remaining[slot.id]),
                "disabled": remaining[slot.id] <= 0,
                "checked": slot.id == chosen and remaining[slot.id] > 0,
            }
        )

    first_open = next((s for s in slots if not s["disabled"]), slots[0])
    anchors = {"name": "name", "slot": f"slot-{first_open['id']}"}
    errors = [
        {
            "field": rejection.field,
            "anchor": anchors.get(rejection.field, "verification"),
            "message": _rejection_message(lang, rejection),
        }
        for rejection in rejections
    ]
    return {
        **_page_context(lang),
        "errors": errors,
        "field_errors": {error["field"]: error["message"] for error in errors},
        "values": {"name": form.get("name", "")},
        "name_max_length": MAX_NAME_LENGTH,
        "slots": slots,
        "action_url": (
            url_for("demo.book", lang="en") if lang == "en" else url_for("demo.book")
        ),
        "widget_src": current_app.config["SERVICE_URL"] + "/widget/v1/captcha.js",
        "sitekey": current_app.config["SITEKEY"],
        "risk_ticket": household.risk_ticket(),
        "ticket_refresh_url": url_for("demo.risk_ticket"),
    }


def _rejection_message(lang: str, rejection: Rejection) -> str:
    """Return the sentence that explains ``rejection`` in ``lang``."""
    when = messages.moment(lang, rejection.frees_at) if rejection.frees_at else ""
    return messages.rejection_message(
        lang, rejection.reason, max=MAX_NAME_LENGTH, when=when
    )


@bp.get("/demo/static/<path:filename>")
def static_file(filename: str) -> Response:
    """Serve a static file of the demo from the repository's or the wheel's folder."""
    return send_from_directory(
        asset_root() / "static" / "demo", filename, max_age=STATIC_MAX_AGE
    )


@bp.app_errorhandler(HTTPException)
def http_error(error: HTTPException) -> Response:
    """Show HTTP errors as a page in the visitor's language."""
    body, status = _error_page(error.code or 500)
    response = make_response(body, status)

    # Keep the headers that the error defines, such as Allow on a 405.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value

    return response


@bp.app_errorhandler(Exception)
def unexpected_error(error: Exception) -> tuple[str, int]:
    """Log an unexpected error and show a generic page."""
    if isinstance(error, UNREADABLE_BODY):
        log_unreadable_body(error, logged_route())
        return _error_page(400)

    logger.exception("unexpected error on %s %s", request.method, logged_route())
    return _error_page(500)


def _error_page(status: int) -> tuple[str, int]:
    lang = _lang()
    context = _page_context(lang)
    texts = context["t"]["http_errors"]
    message = texts.get(status, texts[500] if status >= 500 else texts[400])
    return render_template("error.html", **context, message=message), status
