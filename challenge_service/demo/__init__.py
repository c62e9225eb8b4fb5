"""Demo portal: a municipal pool booking site that embeds the widget.

It runs on another origin than the service, as a vendor's portal does: the
page loads the widget from the service, and the back end checks each pass
token with a server-to-server call to siteverify.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from flask import Flask
from flask import Response

from .. import logs
from .security import add_security_headers
from .security import content_security_policy
from .security import service_origin
from .slots import SlotBook

logger = logging.getLogger(__name__)

#: Largest request body accepted, in bytes: a name, a slot and a pass token.
MAX_BODY_BYTES = 8192


def load_site(site_file: Path) -> dict[str, str]:
    """Read the site key and secret that ``serve --demo`` saved.

    :raises ValueError: if the file is missing or lacks either value.
    """
    try:
        record = json.loads(site_file.read_text())
    except FileNotFoundError:
        raise ValueError(
            f"Site file {str(site_file)!r} not found; start the demo with"
            " `challenge-service serve --demo`, which creates it."
        ) from None
    except ValueError:
        raise ValueError(f"Site file {str(site_file)!r} is not valid JSON.") from None

    if not isinstance(record, dict):
        raise ValueError(f"Site file {str(site_file)!r} must contain a JSON object.")

    for key in ("sitekey", "secret"):
        if not isinstance(record.get(key), str) or not record[key]:
            raise ValueError(f"Site file {str(site_file)!r} has no {key!r} string.")

    return {"sitekey": record["sitekey"], "secret": record["secret"]}


def create_demo_app(service_url: str, site_file: str | Path) -> Flask:
    """Build the demo portal for the service at ``service_url``.

    :raises ValueError: if the service URL or the site file is invalid.
    """
    from . import views

    origin = service_origin(service_url)
    site = load_site(Path(site_file))
    policy = content_security_policy(origin)

    app = Flask(__name__, static_folder=None)
    app.config.update(
        MAX_CONTENT_LENGTH=MAX_BODY_BYTES,
        SERVICE_URL=service_url.rstrip("/"),
        SITEKEY=site["sitekey"],
        SITE_SECRET=site["secret"],
    )
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.extensions["demo_slots"] = SlotBook()
    logs.configure_logging(app)
    app.register_blueprint(views.bp)

    @app.after_request
    def _headers(response: Response) -> Response:
        return add_security_headers(response, policy)

    logger.info("demo portal ready, service at %s", origin)
    return app
