"""Blueprint ``siteverify``: the portal's server-to-server token check.

Requests and responses follow the convention shared by reCAPTCHA, hCaptcha
and Turnstile: form-encoded or JSON fields ``secret``, ``response``,
``remoteip``, ``idempotency_key`` and ``sitekey``; an HTTP 200 response with
``success`` and, on failure, ``error-codes``. A portal switches to this
service by changing the URL it posts to.
"""

from __future__ import annotations

import ipaddress
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint
from flask import current_app
from flask import request
from flask import Response

from .. import errors
from ..errors import StoreUnavailable
from . import current_service
from .schemas import is_encodable
from .schemas import parse_json_object
from .schemas import read_body

bp = Blueprint("siteverify", __name__, url_prefix="/api/v1")

#: Maximum length of each field, in characters.
FIELD_LIMITS = {
    "secret": 128,
    "response": 2048,
    "remoteip": 64,
    "idempotency_key": 64,
    "sitekey": 64,
}

IDEMPOTENCY_KEY = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")

#: A sentence for the developer for each error code.
MESSAGES = {
    "missing-input-secret": "secret is missing; send the site secret.",
    "missing-input-response": (
        "response is missing; send the pass token from the form field."
    ),
    "invalid-input-secret": "secret is not the secret of any site.",
    "sitekey-secret-mismatch": "sitekey does not belong to the site of this secret.",
    "invalid-input-response": (
        "response is not a pass token issued by this service for this site."
    ),
    "timeout-or-duplicate": "response expired or was verified before.",
    "quota-exceeded": (
        "The subject of this token used up its quota for this action; it frees"
        " up at quota_frees_at."
    ),
    "invalid-remoteip": "remoteip is not an IPv4 or IPv6 address.",
    "bad-request": "The request is malformed.",
    "internal-error": "The service could not verify the token; retry shortly.",
}


def _failure(code: str, message: str | None = None) -> dict[str, Any]:
    return {
        "success": False,
        "error-codes": [code],
        "message": message or MESSAGES[code],
    }


def _parse_urlencoded(data: bytes) -> dict[str, str]:
    """Parse a form body, keeping the first value of a repeated field.

    This is the hot path of every verify call, and the standard library's
    parser does the same work as Werkzeug's form parser in less time.
    """
    body: dict[str, str] = {}
    text = data.decode("utf-8", errors="replace")

    for name, value in parse_qsl(text, keep_blank_values=True, max_num_fields=32):
        body.setdefault(name, value)

    return body


def _fields() -> dict[str, str | None] | dict[str, Any]:
    """Read the request fields, or return a failure result."""
    if request.is_json:
        try:
            body = parse_json_object(read_body())
        except ValueError as error:
            return _failure("bad-request", str(error))
    elif request.mimetype == "application/x-www-form-urlencoded":
        try:
            body = _parse_urlencoded(read_body())
        except ValueError:
            return _failure("bad-request", "The form body has too many fields.")
    elif request.mimetype == "multipart/form-data":
        body = request.form.to_dict(flat=True)
    elif read_body():
        return _failure(
            "bad-request",
            "The request body is neither form-encoded nor JSON; send it with"
            " Content-Type application/x-www-form-urlencoded or application/json.",
        )
    else:
        body = {}

    fields: dict[str, str | None] = {}

    for name, limit in FIELD_LIMITS.items():
        value = body.get(name)

        if value is not None and not (isinstance(value, str) and is_encodable(value)):
            return _failure("bad-request", f"{name} must be a UTF-8 string.")

        if value is not None and len(value) > limit:
            return _failure("bad-request", f"{name} is longer than {limit} characters.")

        fields[name] = value or None

    return fields


def jsonify(body: dict[str, Any]) -> Response:
    # Plain json.dumps, because the siteverify response needs no sorted keys
    # or pretty printing, and this is a hot path.
    text = json.dumps(body, separators=(",", ":"))
    return current_app.response_class(text, mimetype="application/json")


@bp.post("/siteverify")
def siteverify() -> Response:
    """Verify a pass token once for the portal's back end."""
    fields = _fields()

    if "success" in fields:
        return jsonify(fields)

    key = fields["idempotency_key"]

    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        return jsonify(
            _failure(
                "bad-request",
                "idempotency_key must be 1 to 64 letters, digits or '_.:-',"
                " such as a UUID.",
            )
        )

    if fields["remoteip"] is not None:
        try:
            ipaddress.ip_address(fields["remoteip"])
        except ValueError:
            return jsonify(_failure("invalid-remoteip"))

    try:
        result = current_service().verify(fields)
    except StoreUnavailable:
        return jsonify(_failure("internal-error"))

    if not result["success"]:
        result["message"] = MESSAGES[result["error-codes"][0]]

    return jsonify(result)


def _error(status: int, message: str) -> Response:
    # Errors raised before or outside the view keep the siteverify shape, so
    # that portal libraries can parse them: a body over the size limit, a
    # wrong method, an unexpected failure.
    code = "internal-error" if status >= 500 else "bad-request"
    response = jsonify(_failure(code, message))
    response.status_code = status
    return response


errors.render_errors_at(bp.url_prefix + "/siteverify", _error)
