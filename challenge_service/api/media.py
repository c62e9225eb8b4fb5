"""Blueprint ``media``: the image and audio clip of an image challenge.

The widget loads these with ``<img>`` and ``<audio>`` elements from the
portal's page, so they are plain GET requests without an Origin check. The
signed media ticket in the ``m`` query parameter authorises them: it names the
challenge, its family, style and expiry, and the signing key that derives the
challenge's secret.
"""

from __future__ import annotations

import math

from flask import Blueprint
from flask import request
from flask import Response

from ..challenges.image import draw
from ..errors import ChallengeExpired
from ..errors import ServiceError
from ..errors import InvalidRequest
from ..errors import RateLimited
from ..errors import UnknownChallenge
from ..media import audio as speech
from ..service import CHALLENGE_ID
from ..signing import InvalidSignature
from ..signing import MEDIA
from . import current_service
from .schemas import LANGUAGES

bp = Blueprint("media", __name__, url_prefix="/api/v1/challenges")

#: Images and clips one network may request per minute.
MEDIA_PER_MINUTE = 60


class InvalidMediaTicket(ServiceError):
    """Raised when the ``m`` parameter of a media URL is not a valid ticket."""

    code = "invalid-media-ticket"


def _ticket(challenge_id: str) -> tuple[dict, bytes, float]:
    """Return the media ticket of the request, the challenge secret and the time."""
    service = current_service()

    if not CHALLENGE_ID.fullmatch(challenge_id):
        raise UnknownChallenge(
            f"No challenge has the challenge_id {challenge_id!r}; use the image_url"
            " or audio_url exactly as the challenge returned it.",
            field="challenge_id",
        )

    raw = request.args.get("m", "")

    try:
        ticket = service.signer.load(MEDIA, raw)
        _, secret = service.signer.derive(f"challenge:{challenge_id}", ticket["k"])
    except InvalidSignature:
        raise InvalidMediaTicket(
            "m is not a media ticket of this service; use the image_url or"
            " audio_url exactly as the challenge returned it.",
            field="m",
        ) from None

    if ticket.get("id") != challenge_id:
        raise UnknownChallenge(
            f"The media ticket belongs to another challenge than challenge_id"
            f" {challenge_id!r}; use the URL exactly as the challenge returned it.",
            field="challenge_id",
        )

    now = service.clock()

    if now >= ticket["exp"]:
        raise ChallengeExpired(
            "The challenge of this image and clip expired; request a new one.",
            field="m",
        )

    # Drawing costs far more than checking a signature, so every network gets
    # a bounded number of drawings.
    network = service.visitors.network(request.remote_addr or "", now)

    if service.store.hit("media", network, 60, now) > MEDIA_PER_MINUTE:
        raise RateLimited(
            "This network requested more images and clips than the service"
            " draws per minute; wait a minute.",
            retry_after=60,
        )

    return ticket, secret, now


def _media_response(
    body: bytes, mimetype: str, expires_at: float, now: float
) -> Response:
    response = Response(body, mimetype=mimetype)
    # The portal's page loads the media from another origin.
    response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
    response.headers["Cache-Control"] = (
        f"private, max-age={max(math.floor(expires_at - now), 0)}, no-transform"
    )
    return response


@bp.get("/<challenge_id>/image")
def image(challenge_id: str) -> Response:
    """Return the PNG image of an image challenge."""
    ticket, secret, now = _ticket(challenge_id)
    drawn = draw(ticket["f"], secret, ticket["s"])
    return _media_response(drawn.png, "image/png", ticket["exp"], now)


@bp.get("/<challenge_id>/audio")
def audio(challenge_id: str) -> Response:
    """Return the spoken alternative of an image challenge, as WAV."""
    ticket, secret, now = _ticket(challenge_id)
    # The clip speaks the challenge's language unless the widget asks for
    # the other one, for a person who switched languages.
    lang = request.args.get("lang", ticket["l"])

    if lang not in LANGUAGES:
        raise InvalidRequest(
            f"lang must be one of {', '.join(LANGUAGES)}, not {lang!r}.", field="lang"
        )

    clip = speech.clip(secret, lang, ticket["s"])
    return _media_response(clip.wav, "audio/wav", ticket["exp"], now)
