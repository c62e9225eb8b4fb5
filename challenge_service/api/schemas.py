"""Parsing of request bodies into checked values.

Each helper raises :class:`~challenge_service.errors.InvalidRequest` with a
message that names the field and states what is expected.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import current_app
from flask import g
from flask import request
from werkzeug.exceptions import ClientDisconnected
from werkzeug.exceptions import RequestEntityTooLarge

from ..errors import InvalidRequest
from ..errors import SHORT_BODY_MESSAGE
from ..errors import UnsupportedMediaType

ACTION = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
LANGUAGES = ("fr", "en")


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not a JSON number")


def parse_json_object(data: bytes) -> dict[str, Any]:
    """Parse ``data`` as a JSON object; raise ValueError with a message otherwise.

    NaN and Infinity are rejected because RFC 8259 does not allow them, and
    nesting deep enough to exhaust the parser counts as invalid JSON.
    """
    try:
        body = json.loads(data, parse_constant=_reject_constant)
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise ValueError("The request body is not valid JSON.") from None

    if not isinstance(body, dict):
        raise ValueError("The request body must be a JSON object.")

    return body


def is_encodable(value: str) -> bool:
    """Return whether ``value`` has no lone surrogates, so it encodes as UTF-8."""
    try:
        value.encode()
    except UnicodeEncodeError:
        return False

    return True


def read_body() -> bytes:
    """Return the request body, or raise 413 when it is over the size limit.

    Werkzeug stops reading a chunked body (one without Content-Length) at the
    limit without an error, so a truncated body would pass as a complete one.
    This function reads one byte more to tell the two apart.
    """
    if "request_body" in g:
        return g.request_body

    limit = current_app.config["MAX_CONTENT_LENGTH"]

    if request.content_length is None:
        body = request.environ["wsgi.input"].read(limit + 1)

        if len(body) > limit:
            raise RequestEntityTooLarge()
    else:
        # A client that closes early leaves the body short, and what arrived
        # may still parse. Werkzeug raises for it unless the server marks
        # its input as terminated at the body's end, as gunicorn does.
        try:
            body = request.get_data(cache=True)
        except ClientDisconnected:
            raise InvalidRequest(SHORT_BODY_MESSAGE) from None

        if len(body) < request.content_length:
            raise InvalidRequest(SHORT_BODY_MESSAGE)

    g.request_body = body
    return body


def json_body() -> dict[str, Any]:
    """Return the request body as a JSON object."""
    if not request.is_json:
        raise UnsupportedMediaType(
            "The request body must be JSON; send it with"
            " 'Content-Type: application/json'.",
            field="Content-Type",
        )

    try:
        return parse_json_object(read_body())
    except ValueError as error:
        raise InvalidRequest(str(error)) from None


def string_field(
    body: dict[str, Any],
    name: str,
    max_length: int,
    required: bool = True,
    pattern: re.Pattern[str] | None = None,
    label: str | None = None,
) -> str | None:
    """Return the string field ``name`` after checking its type and length."""
    label = label or name
    value = body.get(name)

    if value is None or value == "":
        if required:
            raise InvalidRequest(f"{label} is missing; it is required.", field=label)

        return None

    if not isinstance(value, str) or not is_encodable(value):
        raise InvalidRequest(f"{label} must be a UTF-8 string.", field=label)

    if len(value) > max_length:
        raise InvalidRequest(
            f"{label} is longer than {max_length} characters.", field=label
        )

    if pattern is not None and not pattern.fullmatch(value):
        raise InvalidRequest(
            f"{label} has an invalid format; expected {pattern.pattern}.",
            field=label,
        )

    return value


def language(body: dict[str, Any]) -> str:
    """Return the ``lang`` field, French when absent."""
    value = string_field(body, "lang", 8, required=False)

    if value is None:
        return "fr"

    if value not in LANGUAGES:
        raise InvalidRequest(
            f"lang must be one of {', '.join(LANGUAGES)}, not {value!r}.",
            field="lang",
        )

    return value
