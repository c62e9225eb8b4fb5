"""Parsing of request bodies into checked values.

Each helper raises :class:`~challenge_service.errors.InvalidRequest` with a
message that names the field and says what is expected.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import request

from ..errors import InvalidRequest
from ..errors import UnsupportedMediaType

ACTION = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
LANGUAGES = ("fr", "en")


def json_body() -> dict[str, Any]:
    """Return the request body as a JSON object."""
    if not request.is_json:
        raise UnsupportedMediaType(
            "The request body must be JSON; send it with"
            " 'Content-Type: application/json'."
        )

    try:
        body = json.loads(request.get_data(cache=True))
    except (ValueError, UnicodeDecodeError):
        raise InvalidRequest("The request body is not valid JSON.") from None

    if not isinstance(body, dict):
        raise InvalidRequest("The request body must be a JSON object.")

    return body


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

    if not isinstance(value, str):
        raise InvalidRequest(f"{label} must be a string.", field=label)

    if len(value) > max_length:
        raise InvalidRequest(
            f"{label} is longer than {max_length} characters.", field=label
        )

    if pattern is not None and not pattern.match(value):
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
