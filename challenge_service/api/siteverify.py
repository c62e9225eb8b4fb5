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
from collections.abc import Callable
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint
from flask import current_app
from flask import request
from flask import Response

from .. import errors
from ..errors import InvalidRequest
from ..errors import StoreUnavailable
from ..service import ChallengeService
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

PATH = "/api/v1/siteverify"
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"

#: A Content-Length header: decimal digits only, no sign or spaces.
_CONTENT_LENGTH = re.compile(r"[0-9]{1,10}")

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

    :raises _Rejected: if the body is not UTF-8 or has too many fields.
    """
    body: dict[str, str] = {}

    try:
        pairs = parse_qsl(
            data.decode(),
            keep_blank_values=True,
            max_num_fields=32,
            errors="strict",
        )
    except UnicodeDecodeError:
        # A replaced character would make a secret merely unknown.
        raise _Rejected(
            "bad-request",
            "The form body is not valid UTF-8, raw or percent-encoded; encode"
            " every field as UTF-8.",
        ) from None
    except ValueError:
        raise _Rejected("bad-request", "The form body has too many fields.") from None

    for name, value in pairs:
        body.setdefault(name, value)

    return body


class _Rejected(Exception):
    """Raised when a request is malformed, with the failure result to return."""

    def __init__(self, code: str, message: str | None = None) -> None:
        super().__init__(code)
        self.result = _failure(code, message)


def _body_fields() -> dict[str, Any]:
    """Return the fields of the request's body.

    :raises _Rejected: if the body is malformed or of an unknown format.
    """
    if request.is_json:
        return _parse(JSON, _read())

    if request.mimetype == FORM:
        return _parse(FORM, _read())

    if request.mimetype == "multipart/form-data":
        # Reading the body first checks its length, and Werkzeug then parses
        # the form from the bytes read.
        data = _read()
        fields = request.form.to_dict(flat=True)

        # Werkzeug reads a malformed multipart body as one without fields.
        if not fields and not request.files and data:
            raise _Rejected(
                "bad-request",
                "The multipart body has no readable field; check its boundary,"
                " or send the fields form-encoded.",
            )

        # Werkzeug replaces bytes that are not UTF-8 in a multipart field.
        if any("\ufffd" in value for value in fields.values()):
            raise _Rejected(
                "bad-request",
                "A multipart field is not valid UTF-8; encode every field as UTF-8.",
            )

        return fields

    if _read():
        raise _Rejected(
            "bad-request",
            "The request body is neither form-encoded nor JSON; send it with"
            " Content-Type application/x-www-form-urlencoded or application/json.",
        )

    return {}


def _read() -> bytes:
    """Return the request body.

    :raises _Rejected: if the body is shorter than its Content-Length.
    """
    try:
        return read_body()
    except InvalidRequest as error:
        raise _Rejected("bad-request", error.message) from None


def _parse(mimetype: str, data: bytes) -> dict[str, Any]:
    """Return the fields of a form-encoded or JSON body.

    :raises _Rejected: if the body is malformed.
    """
    if mimetype == JSON:
        try:
            return parse_json_object(data)
        except ValueError as error:
            raise _Rejected("bad-request", str(error)) from None

    return _parse_urlencoded(data)


def _checked_fields(body: dict[str, Any]) -> dict[str, str | None]:
    """Return the known fields of ``body``.

    :raises _Rejected: if a field is not a string or is too long.
    """
    fields: dict[str, str | None] = {}

    for name, limit in FIELD_LIMITS.items():
        value = body.get(name)

        if value is not None and not (isinstance(value, str) and is_encodable(value)):
            raise _Rejected("bad-request", f"{name} must be a UTF-8 string.")

        if value is not None and len(value) > limit:
            raise _Rejected("bad-request", f"{name} is longer than {limit} characters.")

        fields[name] = value or None

    key = fields["idempotency_key"]

    if key is not None and not IDEMPOTENCY_KEY.fullmatch(key):
        raise _Rejected(
            "bad-request",
            "idempotency_key must be 1 to 64 letters, digits or '_.:-',"
            " such as a UUID.",
        )

    if fields["remoteip"] is not None:
        try:
            ipaddress.ip_address(fields["remoteip"])
        except ValueError:
            raise _Rejected("invalid-remoteip") from None

    return fields


def verify_body(
    service: ChallengeService, read: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Read a body's fields with ``read``, verify its token and return the result."""
    try:
        fields = _checked_fields(read())
    except _Rejected as rejected:
        return rejected.result

    try:
        result = service.verify(fields)
    except StoreUnavailable:
        return _failure("internal-error")

    if not result["success"]:
        result["message"] = MESSAGES[result["error-codes"][0]]

    return result


def jsonify(body: dict[str, Any]) -> Response:
    # Plain json.dumps, because the siteverify response needs no sorted keys
    # or pretty printing.
    text = json.dumps(body, separators=(",", ":"))
    return current_app.response_class(text, mimetype=JSON)


@bp.post("/siteverify")
def siteverify() -> Response:
    """Verify a pass token once for the portal's back end."""
    return jsonify(verify_body(current_service(), _body_fields))


class FastVerify:
    """WSGI middleware that handles well-formed verify requests without Flask.

    Portals call verify in bursts when a slot opens, and Flask's request
    context, routing and response objects cost about as much as the
    verification itself (see docs/benchmarks.md). This middleware handles a
    POST to the verify path whose body is form-encoded or JSON, with a
    Content-Length within the limit, and responds as the view would. Every
    other request goes to Flask, which responds with the same view or with
    an error in the same shape.
    """

    def __init__(
        self,
        wsgi_app: Callable,
        service: ChallengeService,
        max_body_bytes: int,
        on_request: list[Callable[[], object]],
    ) -> None:
        self.wsgi_app = wsgi_app
        self.service = service
        self.max_body_bytes = max_body_bytes
        #: Functions that Flask runs before every request. None reads the request.
        self.on_request = on_request

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") != "POST" or environ.get("PATH_INFO") != PATH:
            return self.wsgi_app(environ, start_response)

        content_type = environ.get("CONTENT_TYPE", "")
        mimetype = content_type.split(";", 1)[0].strip().lower()
        length = environ.get("CONTENT_LENGTH", "")

        if (
            mimetype not in (FORM, JSON)
            or not _CONTENT_LENGTH.fullmatch(length)
            or int(length) > self.max_body_bytes
        ):
            return self.wsgi_app(environ, start_response)

        status = "200 OK"

        try:
            data = environ["wsgi.input"].read(int(length))
        except errors.UNREADABLE_BODY as error:
            errors.log_unreadable_body(error, PATH)
            data = None

        if data is None:
            result = _failure("bad-request", errors.UNREADABLE_BODY_MESSAGE)
        elif len(data) < int(length):
            result = _failure("bad-request", errors.SHORT_BODY_MESSAGE)
        else:
            try:
                for function in self.on_request:
                    function()

                result = verify_body(self.service, lambda: _parse(mimetype, data))
            except StoreUnavailable:
                result = _failure("internal-error")
            except Exception as error:  # noqa: BLE001 - answered as Flask would
                status = "500 Internal Server Error"
                result = _failure(
                    "internal-error", errors.log_unexpected(error, PATH)
                )

        body = json.dumps(result, separators=(",", ":")).encode()
        start_response(
            status, [("Content-Type", JSON), ("Content-Length", str(len(body)))]
        )
        return [body]


def _error(status: int, message: str) -> Response:
    # Errors raised before or outside the view keep the siteverify shape, so
    # that portal libraries can parse them: a body over the size limit, a
    # wrong method, an unexpected failure.
    code = "internal-error" if status >= 500 else "bad-request"
    response = jsonify(_failure(code, message))
    response.status_code = status
    return response


errors.render_errors_at(PATH, _error)
