"""Blueprint ``challenges``: the endpoints the widget calls from the browser.

These endpoints are called cross-origin from the portal's page, so they answer
CORS preflight requests and check the Origin header against the site's
hostnames.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint
from flask import jsonify
from flask import request
from flask import Response

from ..errors import InvalidEnvelope
from ..errors import InvalidRequest
from ..errors import OriginNotAllowed
from ..errors import UnknownSiteKey
from ..storage import Site
from ..testkeys import is_test_site
from . import current_service
from .schemas import ACTION
from .schemas import json_body
from .schemas import language
from .schemas import string_field

bp = Blueprint("challenges", __name__, url_prefix="/api/v1/challenges")

#: Seconds a browser may cache a preflight response.
PREFLIGHT_MAX_AGE = 600


@bp.after_app_request
def _allow_origin(response: Response) -> Response:
    # The widget must be able to read error bodies too, so every response
    # under this prefix names the caller's origin. That includes the 404 and
    # 405 raised before a view runs. The views check the origin against the site.
    if not request.path.startswith(bp.url_prefix):
        return response

    origin = request.headers.get("Origin")

    if origin:
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = "Retry-After"
        response.headers["Vary"] = "Origin"

    return response


@bp.route("", methods=["OPTIONS"])
@bp.route("/<challenge_id>/answer", methods=["OPTIONS"])
@bp.route("/<challenge_id>/replace", methods=["OPTIONS"])
def preflight(challenge_id: str | None = None) -> Response:
    """Respond to a CORS preflight; the site is checked on the real request."""
    response = Response(status=204)
    del response.headers["Content-Type"]
    # Only the POST endpoints get these; the image and audio are plain GETs.
    response.headers["Access-Control-Allow-Methods"] = "POST"
    response.headers["Access-Control-Allow-Headers"] = "Content-Type"
    response.headers["Access-Control-Max-Age"] = str(PREFLIGHT_MAX_AGE)
    return response


def _hostname_of_origin(site: Site) -> str:
    """Return the caller's hostname if the site allows it."""
    origin = request.headers.get("Origin")

    if not origin or origin == "null":
        raise OriginNotAllowed(
            "The Origin header is missing; call this endpoint from a page"
            " served on one of the site's hostnames.",
            field="Origin",
        )

    try:
        hostname = urlsplit(origin).hostname or ""
    except ValueError:
        hostname = ""

    # The published test keys work from any page, like those of hosted services.
    if hostname not in site.hostnames and not (
        current_service().settings.test_keys and is_test_site(site)
    ):
        raise OriginNotAllowed(
            f"The origin {origin!r} is not allowed for this site key; add its"
            " hostname to the site or use the site key made for it.",
            field="Origin",
        )

    return hostname


def _site(sitekey: str) -> Site:
    site = current_service().site_by_sitekey(sitekey)

    if site is None:
        raise UnknownSiteKey(
            "sitekey is not the key of any site; copy the site key that"
            " `challenge-service sites add` printed.",
            field="sitekey",
        )

    return site


@bp.post("")
def create_challenge() -> tuple[Response, int]:
    """Issue a challenge for the site, action and language in the body."""
    body = json_body()
    sitekey = string_field(body, "sitekey", 64)
    action = string_field(body, "action", 32, pattern=ACTION)
    lang = language(body)
    ticket = None

    # An empty attribute is how a page without a ticket renders, so "" is
    # no ticket; any other value must be a valid one.
    if body.get("risk_ticket") not in (None, ""):
        ticket = string_field(body, "risk_ticket", 2048)

    site = _site(sitekey)
    hostname = _hostname_of_origin(site)
    challenge = current_service().issue(
        site, action, hostname, lang, request.remote_addr or "", ticket
    )
    return jsonify(challenge), 201


@bp.post("/<challenge_id>/answer")
def answer_challenge(challenge_id: str) -> Response:
    """Check an answer; return the next step, or a pass token after the last."""
    body = json_body()

    if "answer" not in body:
        raise InvalidRequest("answer is missing; it is required.", field="answer")

    report = _check_client_report(body.get("client"))
    site, state = _open(challenge_id, body)
    result = current_service().answer(
        site, state, body["answer"], request.remote_addr or "", report
    )
    return jsonify(result)


@bp.post("/<challenge_id>/replace")
def replace_challenge(challenge_id: str) -> tuple[Response, int]:
    """Swap a challenge for one of its alternatives, or for a fresh one."""
    body = json_body()
    choice = body.get("alternative")

    if (
        not isinstance(choice, dict)
        or not isinstance(choice.get("kind"), str)
        or set(choice) - {"kind", "mode"}
        or not isinstance(choice.get("mode", ""), str)
    ):
        raise InvalidRequest(
            "alternative must be an object with 'kind' and optional 'mode', as"
            " listed in the challenge's alternatives.",
            field="alternative",
        )

    site, state = _open(challenge_id, body)
    result = current_service().replace(site, state, choice, request.remote_addr or "")
    return jsonify(result), 201


def _open(challenge_id: str, body: dict[str, Any]) -> tuple[Site, dict[str, Any]]:
    """Return the site and state of the envelope in ``body``, for this origin."""
    service = current_service()
    envelope = string_field(body, "envelope", 2048)
    state = service.open_envelope(challenge_id, envelope)
    site = service.site_by_sitekey(state["site"])

    if site is None:
        raise InvalidEnvelope(
            "The site of this challenge no longer exists.", field="envelope"
        )

    if _hostname_of_origin(site) != state["host"]:
        raise OriginNotAllowed(
            "The challenge was issued to another origin.", field="Origin"
        )

    return site, state


def _check_client_report(report: Any) -> dict[str, Any] | None:
    """Validate the widget's optional report about how it solved the challenge."""
    if report is None:
        return None

    if not isinstance(report, dict) or len(report) > 8:
        raise InvalidRequest(
            "client must be an object with at most 8 fields.", field="client"
        )

    solver = report.get("solver")

    if solver is not None and (not isinstance(solver, str) or len(solver) > 32):
        raise InvalidRequest(
            "client.solver must be a string of at most 32 characters.",
            field="client.solver",
        )

    for name in ("hash_rate", "solve_ms"):
        value = report.get(name)

        if value is None:
            continue

        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not 0 <= value <= 1e12
        ):
            raise InvalidRequest(
                f"client.{name} must be a number from 0 to 1e12.",
                field=f"client.{name}",
            )

    return report
