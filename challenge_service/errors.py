"""Errors raised by the service and the JSON responses that describe them.

Every error response has the same body::

    {"status": 400, "error": "invalid-request", "message": "...", "field": "action"}

``error`` is a stable code that clients can switch on, ``message`` is a
sentence for the developer that names the field and the fix, and ``field``
names the request field at fault, or is null.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask import jsonify
from flask import request
from flask import Response
from werkzeug.exceptions import HTTPException

try:
    from gunicorn.http.errors import NoMoreData
    from gunicorn.http.errors import ParseException
except ImportError:  # pragma: no cover - gunicorn is a dependency
    NoMoreData = ParseException = None  # type: ignore[assignment,misc]

#: Exceptions of the WSGI server while the application reads a malformed
#: request body: bad chunked encoding, or a client gone mid-body.
UNREADABLE_BODY: tuple[type[Exception], ...] = tuple(
    error for error in (ParseException, NoMoreData) if error is not None
)

#: Message of the error for a body shorter than its Content-Length.
SHORT_BODY_MESSAGE = (
    "The request body is shorter than its Content-Length; send the whole body."
)

#: Message of the error for a body that cannot be read.
UNREADABLE_BODY_MESSAGE = (
    "The request body could not be read: its chunked encoding is malformed or"
    " it ended early. Send the whole body, with a Content-Length or valid chunks."
)

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """Base of the errors that become a JSON error response."""

    status = 400
    code = "bad-request"

    def __init__(
        self,
        message: str,
        field: str | None = None,
        retry_after: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.retry_after = retry_after
        #: Further fields of the error body, such as ``attempts_left``.
        self.extra = extra or {}


class InvalidRequest(ServiceError):
    """Raised when a request body or field is malformed, missing or out of range."""

    code = "invalid-request"


class UnsupportedMediaType(ServiceError):
    """Raised when the request body is not in a format the endpoint reads."""

    status = 415
    code = "unsupported-media-type"


class UnknownSiteKey(ServiceError):
    """Raised when no site has the site key given by the widget."""

    code = "unknown-sitekey"


class OriginNotAllowed(ServiceError):
    """Raised when the request's Origin is not one of the site's hostnames."""

    status = 403
    code = "origin-not-allowed"


class UnknownChallenge(ServiceError):
    """Raised when a challenge id is malformed or does not match its envelope."""

    status = 404
    code = "unknown-challenge"


class InvalidEnvelope(ServiceError):
    """Raised when an envelope is malformed, tampered with or for another site."""

    code = "invalid-envelope"


class ChallengeExpired(ServiceError):
    """Raised when an answer arrives after the challenge expired."""

    status = 410
    code = "expired"


class AlreadyAnswered(ServiceError):
    """Raised when a challenge that was already answered is answered again."""

    status = 409
    code = "already-answered"


class WrongAnswer(ServiceError):
    """Raised when the answer to a challenge is not correct."""

    status = 422
    code = "wrong-answer"


class TooEarly(ServiceError):
    """Raised when a timed challenge is answered before its time has passed."""

    status = 422
    code = "too-early"


class InvalidRiskTicket(ServiceError):
    """Raised when a risk ticket is missing where the site requires one, forged,
    expired, or for another site or action."""

    code = "invalid-risk-ticket"


class RateLimited(ServiceError):
    """Raised when a network or site sends more requests than the service accepts."""

    status = 429
    code = "rate-limited"


class StoreUnavailable(ServiceError):
    """Raised when the store cannot be reached; the client should retry later."""

    status = 503
    code = "store-unavailable"


#: Codes for the HTTP errors that Flask and Werkzeug raise themselves.
_HTTP_CODES = {
    404: "not-found",
    405: "method-not-allowed",
    413: "payload-too-large",
    415: "unsupported-media-type",
    416: "range-not-satisfiable",
}

#: Error renderers for paths whose API has its own error shape, used for the
#: errors raised before a view runs, such as 405.
_PATH_RENDERERS: dict[str, Callable[[int, str], Response]] = {}


def render_errors_at(path: str, renderer: Callable[[int, str], Response]) -> None:
    """Render the HTTP and unexpected errors at ``path`` with ``renderer``.

    ``renderer`` takes the status and a message and returns the response.
    """
    _PATH_RENDERERS[path] = renderer


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    retry_after: int | None = None,
    extra: dict[str, Any] | None = None,
) -> Response:
    """Build the JSON error response shared by every endpoint."""
    body = {"status": status, "error": code, "message": message, "field": field}
    body.update(extra or {})
    response = jsonify(body)
    response.status_code = status

    if retry_after is not None:
        response.headers["Retry-After"] = str(retry_after)

    return response


def logged_route() -> str:
    """Return the route of the current request, for the log.

    A path contains what the client typed, such as a secret pasted in place
    of a challenge id, so only the matched rule reaches the log.
    """
    rule = request.url_rule
    return rule.rule if rule is not None else "(no route)"


def _handle_service_error(error: ServiceError) -> Response:
    if error.status >= 500:
        logger.error("%s on %s: %s", error.code, logged_route(), error.message)
    else:
        logger.info("rejected %s on %s: %s", error.code, logged_route(), error.field)

    return error_response(
        error.status,
        error.code,
        error.message,
        error.field,
        error.retry_after,
        error.extra,
    )


def _handle_http_error(error: HTTPException) -> Response:
    status = error.code or 500
    code = _HTTP_CODES.get(status, "bad-request")
    message = error.description or "The request could not be handled."

    if status == 413:
        message = (
            "The request body is larger than the service accepts; send at most"
            f" {request.max_content_length} bytes."
        )

    renderer = _PATH_RENDERERS.get(request.path)

    if renderer is not None:
        response = renderer(status, message)
    else:
        response = error_response(status, code, message)

    # Keep headers such as Allow on 405 and Content-Range on 416.
    for name, value in error.get_headers():
        if name.lower() != "content-type":
            response.headers[name] = value

    return response


def log_unreadable_body(error: Exception, path: str) -> None:
    """Log that a request body could not be read, without the error's text.

    The server's exception repeats the bytes it could not parse, which may be
    a site secret or a pass token.
    """
    logger.info("rejected an unreadable body on %s: %s", path, type(error).__name__)


def _handle_unreadable_body(error: Exception) -> Response:
    log_unreadable_body(error, logged_route())
    renderer = _PATH_RENDERERS.get(request.path)

    # Siteverify responds to a malformed body with 200, like its other failures.
    if renderer is not None:
        return renderer(200, UNREADABLE_BODY_MESSAGE)

    return error_response(400, InvalidRequest.code, UNREADABLE_BODY_MESSAGE)


def log_unexpected(error: Exception, path: str) -> str:
    """Log an unexpected error under a new id and return the message for the client."""
    error_id = secrets.token_hex(6)
    logger.error("unexpected error %s on %s", error_id, path, exc_info=error)
    return f"The service failed unexpectedly; quote error id {error_id} to the operator."


def _handle_unexpected(error: Exception) -> Response:
    message = log_unexpected(error, logged_route())
    renderer = _PATH_RENDERERS.get(request.path)

    if renderer is not None:
        return renderer(500, message)

    return error_response(500, "internal-error", message)


def init_app(app: Flask) -> None:
    """Register the JSON error handlers."""
    app.register_error_handler(ServiceError, _handle_service_error)
    app.register_error_handler(HTTPException, _handle_http_error)

    for error in UNREADABLE_BODY:
        app.register_error_handler(error, _handle_unreadable_body)
    app.register_error_handler(Exception, _handle_unexpected)
