"""The challenge flow without HTTP: issue, answer and verify.

The API blueprints parse requests and call these methods; the CLI and tests
can call them directly.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from . import challenges
from .errors import AlreadyAnswered
from .errors import ChallengeExpired
from .errors import InvalidEnvelope
from .errors import UnknownChallenge
from .errors import WrongAnswer
from .signing import ENVELOPE
from .signing import InvalidSignature
from .signing import PASS_TOKEN
from .signing import Signer
from .sites import hash_secret
from .storage import Redemption
from .storage import Site
from .storage import Store

logger = logging.getLogger(__name__)

CHALLENGE_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")

#: Seconds a used id is kept past its expiry, so that a clock step on the
#: server never lets an id be reused while its signed value still verifies.
USED_ID_MARGIN = 60


def isoformat(timestamp: float) -> str:
    """Return ``timestamp`` as ISO 8601 in UTC with a ``Z`` suffix."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(timestamp)))


@dataclasses.dataclass
class Settings:
    """The settings the flow needs, in seconds."""

    challenge_ttl: int
    token_ttl: int


class ChallengeService:
    """Issue challenges, check answers, sign and redeem pass tokens."""

    def __init__(
        self,
        store: Store,
        signer: Signer,
        settings: Settings,
        clock: Callable[[], float],
    ) -> None:
        self.store = store
        self.signer = signer
        self.settings = settings
        self.clock = clock

    def issue(self, site: Site, action: str, hostname: str, lang: str) -> dict:
        """Build a new challenge for ``site`` and return the widget's view of it."""
        clock_now = self.clock()
        now = int(clock_now)
        level = site.default_level
        challenge = challenges.get("pow").build(level)
        challenge_id = secrets.token_urlsafe(16)
        expires_at = now + self.settings.challenge_ttl
        envelope = self.signer.sign(
            ENVELOPE,
            {
                "id": challenge_id,
                # The random site key, not the row id, so that a value signed
                # for one store's site never passes for another store's site.
                "site": site.sitekey,
                "action": action,
                "host": hostname,
                "lang": lang,
                "level": level,
                "challenge": challenge,
                "iat": now,
                "exp": expires_at,
            },
        )
        logger.debug(
            "issued challenge site=%s action=%s level=%s kind=%s",
            site.id,
            action,
            level,
            challenge["kind"],
        )
        return {
            "challenge_id": challenge_id,
            "level": level,
            "expires_at": isoformat(expires_at),
            "expires_in": _seconds_left(expires_at, clock_now),
            "envelope": envelope,
            "challenge": challenge,
        }

    def open_envelope(self, challenge_id: str, envelope: str) -> dict[str, Any]:
        """Return the verified state of a challenge, or raise the matching error."""
        if not CHALLENGE_ID.fullmatch(challenge_id):
            raise UnknownChallenge(
                f"No challenge has the id {challenge_id!r}; use the challenge_id"
                " returned when the challenge was issued.",
                field="challenge_id",
            )

        try:
            state = self.signer.load(ENVELOPE, envelope)
        except InvalidSignature:
            raise InvalidEnvelope(
                "envelope is not a valid envelope issued by this service; send"
                " the envelope exactly as it was returned.",
                field="envelope",
            ) from None

        if state.get("id") != challenge_id:
            raise UnknownChallenge(
                f"challenge_id {challenge_id!r} does not match the envelope, which"
                " belongs to another challenge.",
                field="challenge_id",
            )

        return state

    def answer(
        self, site: Site, state: dict[str, Any], raw_answer: Any
    ) -> dict[str, Any]:
        """Check an answer; on success spend the challenge and return a pass token."""
        # 1. The envelope's site and expiry.
        if state["site"] != site.sitekey:
            raise InvalidEnvelope(
                "The envelope was issued for another site.", field="envelope"
            )

        clock_now = self.clock()
        now = int(clock_now)

        if now >= state["exp"]:
            raise ChallengeExpired(
                "The challenge of this envelope expired; request a new one.",
                field="envelope",
            )

        # 2. The answer itself; a wrong answer leaves the challenge unanswered.
        kind = challenges.get(state["challenge"]["kind"])
        answer = kind.parse_answer(raw_answer)
        verdict = kind.check(state["challenge"], answer)

        if not verdict.correct:
            logger.info("wrong answer site=%s reason=%s", site.id, verdict.reason)
            raise WrongAnswer(
                "The answer does not solve the challenge.", field="answer"
            )

        # 3. Single use: only the first correct answer gets a token.
        if not self.store.consume(
            "challenge", state["id"], state["exp"] + USED_ID_MARGIN
        ):
            raise AlreadyAnswered(
                f"The challenge with challenge_id {state['id']!r} was already"
                " answered; request a new one.",
                field="challenge_id",
            )

        return self._pass_token(state, clock_now)

    def _pass_token(self, state: dict[str, Any], clock_now: float) -> dict[str, Any]:
        now = int(clock_now)
        expires_at = now + self.settings.token_ttl
        token = self.signer.sign(
            PASS_TOKEN,
            {
                "jti": secrets.token_urlsafe(12),
                "site": state["site"],
                "action": state["action"],
                "host": state["host"],
                "level": state["level"],
                "kinds": [state["challenge"]["kind"]],
                "iat": now,
                "exp": expires_at,
            },
        )
        logger.debug("passed level=%s", state["level"])
        return {
            "pass_token": token,
            "expires_at": isoformat(expires_at),
            "expires_in": _seconds_left(expires_at, clock_now),
        }

    def verify(self, fields: dict[str, str | None]) -> dict[str, Any]:
        """Verify a pass token for a portal, in the siteverify convention.

        The checks run in this order, and the first failure is the answer:
        secret present, response present, secret known, site key matches,
        token signature, token site, token expiry, single use.
        """
        secret = fields.get("secret")
        response = fields.get("response")
        missing = []

        # 1. Both inputs present.
        if not secret:
            missing.append("missing-input-secret")

        if not response:
            missing.append("missing-input-response")

        if missing:
            return _failure(*missing)

        # 2. The secret names the site; a token of another site is invalid.
        now = self.clock()
        site = self.store.site_by_secret_hash(hash_secret(secret), now)

        if site is None:
            return _failure("invalid-input-secret")

        sitekey = fields.get("sitekey")

        if sitekey and not hmac.compare_digest(sitekey.encode(), site.sitekey.encode()):
            return _failure("sitekey-secret-mismatch")

        try:
            token = self.signer.load(PASS_TOKEN, response)
        except InvalidSignature:
            return _failure("invalid-input-response")

        if token.get("site") != site.sitekey:
            return _failure("invalid-input-response")

        # 3. Expiry, then single use.
        if now >= token["exp"]:
            return _failure("timeout-or-duplicate", "expired-input-response")

        result = {
            "success": True,
            "challenge_ts": isoformat(token["iat"]),
            "hostname": token["host"],
            "action": token["action"],
            "level": token["level"],
            "kinds": token["kinds"],
            "error-codes": [],
        }
        key = fields.get("idempotency_key")
        outcome, stored = self.store.redeem(
            site.id,
            token["jti"],
            token["exp"] + USED_ID_MARGIN,
            key,
            json.dumps(result) if key else "",
        )

        if outcome is Redemption.REPLAYED:
            return json.loads(stored)

        if outcome is Redemption.DUPLICATE:
            return _failure("timeout-or-duplicate", "already-seen-response")

        logger.debug("verified site=%s level=%s", site.id, token["level"])
        return result


def _seconds_left(expires_at: int, clock_now: float) -> int:
    # Signed times are whole seconds, so a value issued at 100.7 with a 300 s
    # lifetime expires at 400: 299 seconds left, not 300.
    return int(expires_at - clock_now)


def _failure(*codes: str) -> dict[str, Any]:
    return {"success": False, "error-codes": list(codes)}
