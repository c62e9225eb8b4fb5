"""Blueprint ``assets``: the widget and the static files, under versioned URLs."""

from __future__ import annotations

from pathlib import Path

from flask import Blueprint
from flask import current_app
from flask import Response
from flask import send_from_directory

bp = Blueprint("assets", __name__)

#: Version of the widget's public interface; a breaking change gets a new one.
WIDGET_VERSION = "v1"

#: Seconds browsers and proxies may cache the widget files.
WIDGET_MAX_AGE = 3600


def asset_root() -> Path:
    """Return the folder holding ``widgets/`` and ``static/``.

    An installed wheel carries them in ``_assets``; a source checkout has them
    at the top of the repository.
    """
    packaged = Path(__file__).resolve().parent.parent / "_assets"

    if packaged.is_dir():
        return packaged

    return Path(__file__).resolve().parent.parent.parent


@bp.get(f"/widget/{WIDGET_VERSION}/<path:filename>")
def widget_file(filename: str) -> Response:
    """Serve a file of the widget to any page that embeds it."""
    # Python's table maps .ts to video or Qt types; the type declarations
    # are text.
    mimetype = "text/plain" if filename.endswith(".d.ts") else None
    response = send_from_directory(
        asset_root() / "widgets" / "captcha",
        filename,
        max_age=WIDGET_MAX_AGE,
        mimetype=mimetype,
    )
    # The widget loads its worker source with fetch() from the portal's page.
    response.headers["Access-Control-Allow-Origin"] = "*"
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    return response


@bp.get("/static/<path:filename>")
def static_file(filename: str) -> Response:
    """Serve the service's own static files."""
    return send_from_directory(
        asset_root() / "static",
        filename,
        max_age=current_app.get_send_file_max_age(filename),
    )
