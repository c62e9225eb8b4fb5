"""The portal's server-to-server call to the service's siteverify endpoint."""

from __future__ import annotations

import http.client
import json
import logging
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any

logger = logging.getLogger(__name__)

#: Seconds to wait for the service before giving up on one attempt.
TIMEOUT = 5.0

#: Attempts per verification: the first call and one retry.
ATTEMPTS = 2


class VerifyUnavailable(Exception):
    """Raised when the service cannot be reached or returns no siteverify result."""


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

    :raises VerifyUnavailable: if both attempts fail.
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
    request = urllib.request.Request(
        service_url.rstrip("/") + "/api/v1/siteverify",
        data=body,
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        },
        method="POST",
    )
    last_error = ""

    for attempt in range(1, ATTEMPTS + 1):
        try:
            return _post(request, timeout)
        except _TransientError as error:
            last_error = str(error)
            logger.warning(
                "siteverify attempt %d of %d failed: %s", attempt, ATTEMPTS, error
            )

    raise VerifyUnavailable(last_error)


class _TransientError(Exception):
    """A failure that the same request may not meet on a retry."""


def _post(request: urllib.request.Request, timeout: float) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        # siteverify returns HTTP 200 even on failure, so another status comes
        # from a proxy or a crash (5xx) or from a malformed request (4xx).
        if error.code >= 500:
            raise _TransientError(f"HTTP {error.code} from siteverify") from None

        raise VerifyUnavailable(f"HTTP {error.code} from siteverify") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
        raise _TransientError(f"{type(error).__name__}: {error}") from None

    try:
        result = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise VerifyUnavailable("siteverify returned a body that is not JSON") from None

    if not isinstance(result, dict) or not isinstance(result.get("success"), bool):
        raise VerifyUnavailable("siteverify returned JSON without a boolean success")

    return result
