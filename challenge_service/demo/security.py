"""Security of the demo portal: response headers and a same-origin request check.

Every response gets a strict CSP and the usual hardening headers. The
request check lets only the portal's own page scripts read a risk ticket.
"""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlsplit

from flask import Response

#: Request header that the demo page's own scripts send with their fetch() calls.
SCRIPT_HEADER = "X-Requested-With"


def service_origin(service_url: str) -> str:
    """Return the ``scheme://host[:port]`` origin of the service URL.

    :raises ValueError: if the URL is not an absolute http or https URL.
    """
    parts = urlsplit(service_url)

    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(
            f"--service-url {service_url!r} is not an absolute http(s) URL; give"
            " one such as http://127.0.0.1:8080."
        )

    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}"


def content_security_policy(origin: str) -> str:
    """Return the CSP of every demo page, allowing the widget from ``origin``.

    The page itself runs no inline script or style. Its own script file
    fetches fresh risk tickets from the portal, hence ``'self'`` in
    ``connect-src``. The widget loads its script from the service, calls the
    service's API with fetch(), and runs its solver in a Web Worker built
    from a ``blob:`` URL because a worker cannot start from another origin's
    URL. The widget applies its CSS as a
    constructed stylesheet, which needs no ``style-src`` entry, but falls
    back to a ``<link>`` to the service in browsers without constructed
    stylesheets (see ``widgets/captcha/README.md``). Allowing the service's
    styles adds no trust, since its scripts already run on the page.
    """
    directives = {
        "default-src": "'self'",
        "script-src": f"'self' {origin}",
        "style-src": f"'self' {origin}",
        "connect-src": f"'self' {origin}",
        "worker-src": "blob:",
        # Image challenges and their spoken version come from the service.
        "img-src": f"'self' data: {origin}",
        "media-src": origin,
        "form-action": "'self'",
        "frame-ancestors": "'none'",
        "base-uri": "'none'",
        "object-src": "'none'",
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def is_same_origin_script(headers: Mapping[str, str]) -> bool:
    """Return whether a request comes from a script of the demo's own pages.

    The check requires a custom header, which a page of another origin can
    send only after a CORS preflight that the demo never grants, and which a
    form, a link or an ``<img>`` or ``<script>`` element cannot send at all.
    Unlike Sec-Fetch-Site, it works in browsers that do not send fetch
    metadata. Where the browser sends Sec-Fetch-Site, any value other than
    ``same-origin`` is rejected as well, so the check still holds if a CORS
    header is ever added by mistake.
    """
    if not headers.get(SCRIPT_HEADER):
        return False

    return headers.get("Sec-Fetch-Site", "same-origin") == "same-origin"


def add_security_headers(response: Response, policy: str) -> Response:
    """Set the CSP and the hardening headers on a demo response."""
    response.headers["Content-Security-Policy"] = policy
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"

    if response.mimetype == "text/html":
        # Pages show a person's booking, so no shared cache may keep them.
        response.headers["Cache-Control"] = "no-store"

    return response
