"""The portal's server-to-server calls to the service: siteverify and risk tickets."""

from __future__ import annotations

import dataclasses
import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

logger = logging.getLogger(__name__)

#: Seconds to wait for the service before giving up on one siteverify attempt.
TIMEOUT = 5.0

#: Attempts per verification: the first call and one retry.
ATTEMPTS = 2

#: Seconds to wait for a risk ticket. The page waits for it, and renders
#: without a ticket when it does not come, so this is short.
TICKET_TIMEOUT = 2.0


@dataclasses.dataclass(frozen=True)
class RiskTicket:
    """A signed risk ticket and the seconds it stays valid after its issue."""

    value: str
    expires_in: int


class ServiceCallFailed(Exception):
    """Raised when a call to the service fails or returns no usable result."""


class _TransientError(ServiceCallFailed):
    """A failure that the same request may not meet on a retry."""


def verify_token(
    service_url: str,
    secret: str,
    sitekey: str,
    token: str,
    timeout: float = TIMEOUT,
) -> dict[str, Any]:
    """Post a pass token to siteverify and return the service's JSON result.

    A network error or an HTTP 5xx gets one retry with the same idempotency
    key, so that a retry of a call that reached the service returns the
    stored result instead of ``already-seen-response``.

    :raises ServiceCallFailed: if both attempts fail.
    """
    # remoteip is optional and the service does not use it, so the visitor's
    # address stays with the portal.
    body = urllib.parse.urlencode(
        {
            "secret": secret,
            "sitekey": sitekey,
            "response": token,
            "idempotency_key": str(uuid.uuid4()),
        }
    ).encode()
    request = _request(
        service_url, "siteverify", body, "application/x-www-form-urlencoded"
    )
    last_error = ""

    for attempt in range(1, ATTEMPTS + 1):
        try:
            result = _post(request, timeout, "siteverify")
        except _TransientError as error:
            last_error = str(error)
            logger.warning(
                "siteverify attempt %d of %d failed: %s", attempt, ATTEMPTS, error
            )
            continue

        if not isinstance(result, dict) or not isinstance(result.get("success"), bool):
            raise ServiceCallFailed(
                "siteverify returned JSON without a boolean success"
            )

        return result

    raise ServiceCallFailed(last_error)


def request_risk_ticket(
    service_url: str,
    secret: str,
    ticket: dict[str, Any],
    timeout: float = TICKET_TIMEOUT,
) -> RiskTicket:
    """Ask the service to sign a risk ticket and return it with its lifetime.

    ``ticket`` contains the request's ``subject``, ``risk``, ``action`` and
    ``reasons``. The call is made once: a page renders without a ticket
    rather than keep the visitor waiting for a retry, and the page's refresh
    script retries on its own.

    :raises ServiceCallFailed: if the service gives no ticket.
    """
    body = json.dumps({"secret": secret, **ticket}).encode()
    request = _request(service_url, "risk-tickets", body, "application/json")
    result = _post(request, timeout, "risk-tickets")
    result = result if isinstance(result, dict) else {}
    signed = result.get("risk_ticket")
    expires_in = result.get("expires_in")

    if not isinstance(signed, str) or not signed:
        raise ServiceCallFailed(
            "risk-tickets returned JSON without a risk_ticket string"
        )

    # bool is a subclass of int, but true is no lifetime.
    if (
        isinstance(expires_in, bool)
        or not isinstance(expires_in, int)
        or expires_in <= 0
    ):
        raise ServiceCallFailed(
            "risk-tickets returned JSON without a positive integer expires_in"
        )

    return RiskTicket(signed, expires_in)


def _request(
    service_url: str, endpoint: str, body: bytes, content_type: str
) -> urllib.request.Request:
    """Build a POST of ``body`` to the service's ``/api/v1/ENDPOINT``."""
    return urllib.request.Request(
        f"{service_url.rstrip('/')}/api/v1/{endpoint}",
        data=body,
        headers={"Content-Type": content_type, "Accept": "application/json"},
        method="POST",
    )


def _post(request: urllib.request.Request, timeout: float, endpoint: str) -> Any:
    """Send ``request`` and return its decoded JSON body.

    :raises _TransientError: on a network error or an HTTP 5xx.
    :raises ServiceCallFailed: on another HTTP error or a body that is not JSON.
    """
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        # siteverify returns HTTP 200 even on failure, so another status comes
        # from a proxy or a crash (5xx) or from a malformed request (4xx).
        message = f"HTTP {error.code} from {endpoint}{_error_code(error)}"
        error.close()

        if error.code >= 500:
            raise _TransientError(message) from None

        raise ServiceCallFailed(message) from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        raise _TransientError(f"{type(error).__name__}: {error}") from None

    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ServiceCallFailed(
            f"{endpoint} returned a body that is not JSON"
        ) from None


def _error_code(error: urllib.error.HTTPError) -> str:
    """Return ``: CODE (field FIELD)`` from the service's JSON error, or "".

    The service's ``message`` is left out: it may repeat what the request
    sent, and logs must not hold the secret or the subject.
    """
    try:
        body = json.loads(error.read(4096))
    except (ValueError, UnicodeDecodeError, OSError, http.client.HTTPException):
        return ""

    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return ""

    field = body.get("field")
    named = f" (field {field})" if isinstance(field, str) else ""
    return f": {body['error']}{named}"
