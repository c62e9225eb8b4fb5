"""Image challenges with an audio alternative in French and English.

The envelope carries only the image family. The characters or the count that
the image shows derive from the challenge's secret, and that secret is
derived from a signing key and the challenge id, so it never leaves the
server. The image and the audio clip are served from URLs that carry a
signed media ticket, so the server can draw them again without storing
anything.
"""

from __future__ import annotations

import functools
from typing import Any

from ..errors import InvalidRequest
from ..media import answers
from ..media import audio
from ..media import image as drawing
from .base import Context
from .base import Verdict

#: Longest answer accepted: six digits spelled out as words need about 45.
MAX_ANSWER_LENGTH = answers.MAX_INPUT_LENGTH


@functools.lru_cache(maxsize=64)
def draw(family: str, secret: bytes, style: int) -> drawing.Drawing:
    """Draw an image, reusing the drawing of a recent request in this process."""
    return drawing.draw(family, secret, style)


class Image:
    """Challenge kind ``image``."""

    name = "image"
    variants = drawing.FAMILIES
    cognitive = True
    #: Phrasings of each family's prompt (``TEXT_PROMPTS`` and
    #: ``COUNT_PROMPTS`` in media/image.py) and of the widget's instructions.
    wordings = 3
    #: Wrong answers are counted, and the last one moves the visitor on.
    limits_attempts = True
    #: The kind serves an image and an audio clip.
    has_media = True

    def build(self, context: Context, family: str | None = None) -> dict[str, Any]:
        chosen = family or self.variants[context.variant]
        return {
            "kind": self.name,
            "family": chosen,
            "alternatives": [
                {"kind": self.name},
                {"kind": "timing", "mode": "wait"},
            ],
        }

    def describe(
        self, params: dict[str, Any], context: Context, media_ticket: str
    ) -> dict[str, Any]:
        """Return what the widget shows: the image, its prompt and alternatives.

        The prompt is the phrasing of the challenge's ``wording``; the image
        does not depend on it.
        """
        drawn = draw(params["family"], context.secret, context.style)
        base = f"/api/v1/challenges/{context.challenge_id}"
        return {
            **params,
            "image_url": f"{base}/image?m={media_ticket}",
            "audio_url": f"{base}/audio?m={media_ticket}",
            "width": drawn.css_width,
            "height": drawn.css_height,
            "prompt": dict(drawn.prompts[params["wording"]]),
            "alt": dict(drawn.alt),
            "max_length": MAX_ANSWER_LENGTH,
        }

    def parse_answer(self, raw: Any) -> str:
        if not isinstance(raw, dict) or not isinstance(raw.get("text"), str):
            raise InvalidRequest(
                "answer must be an object with a 'text' string: what the person typed.",
                field="answer.text",
            )

        text = raw["text"]

        if not text.strip() or len(text) > MAX_ANSWER_LENGTH:
            raise InvalidRequest(
                f"answer.text must have 1 to {MAX_ANSWER_LENGTH} characters besides"
                " spaces: what the person read or heard.",
                field="answer.text",
            )

        try:
            text.encode()
        except UnicodeEncodeError:
            raise InvalidRequest(
                "answer.text must be valid Unicode text.", field="answer.text"
            ) from None

        return raw["text"]

    def check(self, params: dict[str, Any], answer: str, context: Context) -> Verdict:
        drawn = draw(params["family"], context.secret, context.style)

        # The person may have read the image or listened to the clip; each
        # has its own answer.
        if answers.matches(answer, drawn.answer):
            return Verdict(True)

        if answers.matches(answer, audio.digits(context.secret)):
            return Verdict(True)

        return Verdict(False, "text-mismatch")
