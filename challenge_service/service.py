"""The challenge flow without HTTP: issue, answer and verify.

The API blueprints parse requests and call these methods; the CLI and tests
can call them directly.
"""

from __future__ import annotations

import dataclasses
import hmac
import json
import logging
import math
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

from . import challenges
from .audit import AuditLog
from . import testkeys
from .challenges import Context
from .challenges.epochs import Rotation
from .errors import AlreadyAnswered
from .errors import ChallengeExpired
from .errors import InvalidEnvelope
from .errors import InvalidRequest
from .errors import InvalidRiskTicket
from .errors import RateLimited
from .errors import StoreUnavailable
from .errors import TooEarly
from .errors import UnknownChallenge
from .errors import WrongAnswer
from .policy import decide
from .policy import exact_network_counts
from .policy import Signals
from .policy import Step
from .policies import Policies
from .signals import Visitors
from .signing import ENVELOPE
from .signing import MEDIA
from .signing import InvalidSignature
from .signing import PASS_TOKEN
from .signing import Signer
from .sites import hash_secret
from .storage import Redemption
from .storage import Site
from .storage import Store
from .tickets import RiskTickets

logger = logging.getLogger(__name__)

CHALLENGE_ID = re.compile(r"^[A-Za-z0-9_-]{22}$")

#: Seconds a used id is kept past its expiry, so that a clock step on the
#: server never lets an id be reused while its signed value still verifies.
USED_ID_MARGIN = 60

#: Hash rate, in SHA-256 per second, above which a proof of work counts as
#: solved faster than a browser can. The widget's solver measured 4.7 M/s in
#: one Web Worker of headless Chromium on a 2-vCPU server. NOTE: the bound is
#: an estimate that leaves room for about eight such cores, not a measurement
#: of the fastest desktops.
PLAUSIBLE_HASH_RATE = 40e6

#: Milliseconds below which an answer to a challenge that a person reads
#: counts as faster than reading.
MIN_READING_MS = 1500

#: Seconds a timed step stays open after its required time has passed.
MIN_ANSWER_SECONDS = 60

#: Wrong answers accepted per challenge of a kind that limits attempts; after
#: the last one, the visitor gets a challenge of another kind.
MAX_ATTEMPTS = 3


def isoformat(timestamp: float) -> str:
    """Return ``timestamp`` as ISO 8601 in UTC with a ``Z`` suffix."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(int(timestamp)))


@dataclasses.dataclass
class Settings:
    """The settings the flow needs, in seconds."""

    challenge_ttl: int
    token_ttl: int
    ticket_ttl: int = 300
    epoch_seconds: int = 86400
    #: Whether the published test keys work.
    test_keys: bool = True
    #: Whether risk and observed signals choose the level; without, every
    #: challenge of a site is at its floor.
    adaptive: bool = True


class ChallengeService:
    """Issue challenges, check answers, sign and redeem pass tokens.

    A challenge request is decided by the risk policy into a plan of one or
    more steps. Each step is one challenge with its own id and envelope; the
    answer to a step returns the next step, and the answer to the last step
    returns the pass token, which records every kind that was solved.
    """

    def __init__(
        self,
        store: Store,
        signer: Signer,
        settings: Settings,
        clock: Callable[[], float],
        visitors: Visitors,
        audit: AuditLog,
    ) -> None:
        self.audit = audit
        self.store = store
        self.signer = signer
        self.settings = settings
        self.clock = clock
        self.visitors = visitors
        self.policies = Policies(store)
        self.tickets = RiskTickets(signer, visitors, settings.ticket_ttl)
        self.rotation = Rotation(signer.derive, settings.epoch_seconds)

    # Sites.

    def site_by_sitekey(self, sitekey: str) -> Site | None:
        """Return the site with this key, hiding the test sites when they are off."""
        return self._visible(self.store.site_by_sitekey(sitekey))

    def site_by_secret(self, secret: str, now: float) -> Site | None:
        """Return the site of this secret, hiding the test sites when they are off."""
        return self._visible(self.store.site_by_secret_hash(hash_secret(secret), now))

    def _visible(self, site: Site | None) -> Site | None:
        # Test sites created while the test keys were on stay in the store.
        if (
            site is not None
            and not self.settings.test_keys
            and testkeys.is_test_site(site)
        ):
            return None

        return site

    # Issue.

    def issue(
        self,
        site: Site,
        action: str,
        hostname: str,
        lang: str,
        address: str,
        ticket: str | None = None,
    ) -> dict:
        """Decide the level for a visitor and return the first step's challenge."""
        clock_now = self.clock()
        policy = self.policies.get(site)

        portal_reasons: list[str] = []
        test_site = testkeys.is_test_site(site)

        if ticket is None and action in policy.quotas:
            # Without a subject the quota could not count this booking.
            raise InvalidRiskTicket(
                f"risk_ticket is missing; this site counts each subject's {action!r}"
                " verifications, so the portal must pass a risk ticket with the"
                " subject for this action.",
                field="risk_ticket",
            )

        if ticket is None and policy.require_risk_ticket:
            raise InvalidRiskTicket(
                "risk_ticket is missing, and this site requires one with every"
                " challenge request. The portal's back end must request a ticket"
                " from POST /api/v1/risk-tickets and write it into the widget's"
                " data-risk-ticket attribute.",
                field="risk_ticket",
            )

        if ticket is None:
            risk, subject, quota_subject = policy.default_risk, None, None
        else:
            read = self.tickets.read(ticket, site, action, clock_now)
            risk, subject, quota_subject = read.risk, read.subject, read.quota_subject
            portal_reasons = list(read.reasons)

        network = self.visitors.network(address, clock_now)

        if self.settings.adaptive and not test_site:
            signals = self.visitors.observe(
                site.id,
                network,
                subject,
                policy.window_seconds,
                clock_now,
                exact=exact_network_counts(policy),
            )
        else:
            # Fixed levels: nothing is counted, and only the floor applies.
            # The public test keys never count, so that no page can use them
            # to push its visitors' networks to the limit of real sites.
            signals = Signals()
            risk = 0.0
            policy = dataclasses.replace(policy, network_limit=0, burst_per_minute=0)

        if policy.network_limit and signals.network_rate > policy.network_limit:
            self._audit(
                "challenge",
                site,
                action,
                clock_now,
                outcome="rate-limited",
                network=network,
                subject=subject,
            )
            # Requests leave the count only when they leave the window.
            raise RateLimited(
                "This network requested more challenges than the site allows;"
                " wait before requesting another.",
                retry_after=policy.window_seconds,
            )

        if site.default_level > policy.floor:
            policy = dataclasses.replace(
                policy, floor=min(site.default_level, policy.max_level)
            )

        decision = decide(risk, signals, policy)
        flow = {
            "site": site.sitekey,
            "action": action,
            "host": hostname,
            "lang": lang,
            "level": decision.level,
            "steps": [step.to_list() for step in decision.steps],
            "reasons": list(decision.reasons),
            "q": quota_subject,
            # Whether a valid risk ticket came with the request. The ticket
            # passes through the visitor's browser, which can leave it out,
            # so siteverify reports this to the portal.
            "rt": ticket is not None,
        }
        if test_site:
            return self._start_step(flow, 0, [], clock_now)

        self._audit(
            "challenge",
            site,
            action,
            clock_now,
            outcome="issued",
            risk_ticket=ticket is not None,
            portal_reasons=portal_reasons,
            level=decision.level,
            reasons=list(decision.reasons),
            network=network,
            subject=subject,
            score=decision.score,
        )
        return self._start_step(flow, 0, [], clock_now)

    def _start_step(
        self,
        flow: dict[str, Any],
        index: int,
        done: list[str],
        clock_now: float,
        step: Step | None = None,
    ) -> dict[str, Any]:
        if step is None:
            kind_name, options = flow["steps"][index]
            step = Step(kind_name, options)

        kind, options = _available(step)
        now = int(clock_now)
        selection = self.rotation.select(kind.name, len(kind.variants), clock_now)
        challenge_id = secrets.token_urlsafe(16)
        key_id, secret = self.signer.derive(f"challenge:{challenge_id}")
        context = Context(
            challenge_id=challenge_id,
            level=flow["level"],
            lang=flow["lang"],
            variant=selection.variant,
            style=selection.style,
            secret=secret,
            issued_at=clock_now,
            now=clock_now,
        )
        params = kind.build(context, **options)

        if kind.wordings:
            # The wording of the instructions rotates like the variant, so a
            # script matched to one epoch's text meets other text in the
            # next. It is signed with the other parameters and so keeps its
            # value after the epoch changes.
            params["wording"] = self.rotation.select(
                f"wording:{kind.name}", kind.wordings, clock_now
            ).variant

        # A timed step stays open a while after its time, whatever the
        # challenge lifetime, or a short lifetime would make it a dead end.
        required_ms = _required_ms(kind, params)
        lifetime = self.settings.challenge_ttl

        if required_ms:
            lifetime = max(lifetime, math.ceil(required_ms / 1000) + MIN_ANSWER_SECONDS)

        expires_at = now + lifetime
        envelope = self.signer.sign(
            ENVELOPE,
            {
                **flow,
                "id": challenge_id,
                "step": index,
                "done": done,
                "challenge": params,
                "k": key_id,
                "v": selection.variant,
                "style": selection.style,
                "t": round(clock_now * 1000),
                "iat": now,
                "exp": expires_at,
            },
        )
        logger.debug(
            "issued challenge level=%s kind=%s step=%s",
            flow["level"],
            kind.name,
            index,
        )
        public = params

        if getattr(kind, "has_media", False):
            ticket = self.signer.sign(
                MEDIA,
                {
                    "id": challenge_id,
                    "k": key_id,
                    "f": params["family"],
                    "l": flow["lang"],
                    "s": selection.style,
                    "exp": expires_at,
                },
            )
            public = kind.describe(params, context, ticket)
        return {
            "challenge_id": challenge_id,
            "level": flow["level"],
            "step": index + 1,
            "steps": len(flow["steps"]),
            "expires_at": isoformat(expires_at),
            "expires_in": _seconds_left(expires_at, clock_now),
            "envelope": envelope,
            "challenge": public,
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

    def context(self, state: dict[str, Any], clock_now: float) -> Context:
        """Rebuild the context a challenge was built with, at ``clock_now``."""
        try:
            _, secret = self.signer.derive(f"challenge:{state['id']}", state["k"])
        except InvalidSignature:
            raise InvalidEnvelope(
                "The key of this challenge was retired; request a new challenge.",
                field="envelope",
            ) from None

        return Context(
            challenge_id=state["id"],
            level=state["level"],
            lang=state["lang"],
            variant=state["v"],
            style=state["style"],
            secret=secret,
            issued_at=state["t"] / 1000,
            now=clock_now,
        )

    # Answer.

    def answer(
        self,
        site: Site,
        state: dict[str, Any],
        raw_answer: Any,
        address: str,
        report: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Check an answer; return the next step, or the pass token after the last."""
        clock_now = self._check_open(site, state)
        kind = challenges.get(state["challenge"]["kind"])
        answer = kind.parse_answer(raw_answer)

        if self.settings.test_keys and site.sitekey == testkeys.ALWAYS_FAIL.sitekey:
            raise WrongAnswer(
                "This is the test site key that always fails.", field="answer"
            )

        context = self.context(state, clock_now)
        params = state["challenge"]
        network = self.visitors.network(address, clock_now)
        window = self.policies.get(site).window_seconds
        # Whole milliseconds on both sides, so float rounding never turns an
        # answer on time into one a millisecond early.
        elapsed_ms = round(clock_now * 1000) - state["t"]
        required_ms = _required_ms(kind, params)

        # 1. Timed challenges: only the server's clock counts.
        if elapsed_ms < required_ms:
            self.visitors.note("fast-answer", network, window, clock_now)
            wait = math.ceil((required_ms - elapsed_ms) / 1000)
            raise TooEarly(
                f"This challenge can be answered {wait} s from now, not before.",
                field="answer",
                retry_after=wait,
                extra={"retry_after_ms": math.ceil(required_ms - elapsed_ms)},
            )

        # A hold reported longer than the server saw pass is a made-up report.
        if (
            isinstance(answer, dict)
            and (answer.get("held_ms") or 0) > elapsed_ms + 1000
        ):
            self.visitors.note("fast-answer", network, window, clock_now)

        # 2. The answer; a wrong answer leaves the challenge open.
        verdict = kind.check(params, answer, context)

        if not verdict.correct:
            logger.info("wrong answer site=%s reason=%s", site.id, verdict.reason)
            self.visitors.note("wrong-answers", network, window, clock_now)
            raise self._wrong_answer(state, kind, clock_now)

        # Only a correct answer says how fast its solver was.
        self._note_speed(kind, params, elapsed_ms, report, network, window, clock_now)

        # 3. Single use: only the first correct answer moves on.
        self._spend(state, network, window, clock_now)
        done = [*state["done"], kind.name]
        flow = _flow_of(state)

        if state["step"] + 1 < len(state["steps"]):
            return {
                "result": "next",
                **self._start_step(flow, state["step"] + 1, done, clock_now),
            }

        self._audit(
            "answer",
            site,
            state["action"],
            clock_now,
            outcome="passed",
            level=state["level"],
            reasons=state["reasons"],
            network=network,
            solve_ms=int(elapsed_ms),
        )
        return {"result": "pass", **self._pass_token(state, done, clock_now)}

    def replace(
        self,
        site: Site,
        state: dict[str, Any],
        choice: dict[str, Any],
        address: str,
    ) -> dict[str, Any]:
        """Swap the current step for one of its alternatives, or a fresh one."""
        clock_now = self._check_open(site, state)
        params = state["challenge"]
        current = _choice_key(params)
        requested = _choice_key(choice)
        planned_kind, planned_options = state["steps"][state["step"]]

        if requested == current and current == _choice_key(
            {"kind": planned_kind, **planned_options}
        ):
            # A fresh challenge of the planned step keeps the policy's options,
            # such as the length of a wait.
            step = Step(planned_kind, planned_options)
        elif requested == current or requested in [
            _choice_key(alternative) for alternative in params.get("alternatives", [])
        ]:
            options = {key: value for key, value in choice.items() if key != "kind"}
            step = Step(choice["kind"], options)
        else:
            raise InvalidRequest(
                f"This challenge offers no alternative {choice!r}; choose one of"
                f" {params.get('alternatives', [])} or the same kind again.",
                field="alternative",
            )

        network = self.visitors.network(address, clock_now)
        window = self.policies.get(site).window_seconds
        self._spend(state, network, window, clock_now)

        if getattr(challenges.get(params["kind"]), "limits_attempts", False):
            # Wrong answers to the replaced challenge now get 409, as a right
            # one does.
            self.store.hit(
                "attempts",
                state["id"],
                self.settings.challenge_ttl + USED_ID_MARGIN,
                clock_now,
                amount=MAX_ATTEMPTS + 1,
            )
        return self._start_step(
            _flow_of(state), state["step"], state["done"], clock_now, step=step
        )

    def _check_open(self, site: Site, state: dict[str, Any]) -> float:
        if state["site"] != site.sitekey:
            raise InvalidEnvelope(
                "The envelope was issued for another site.", field="envelope"
            )

        clock_now = self.clock()

        if int(clock_now) >= state["exp"]:
            raise ChallengeExpired(
                "The challenge of this envelope expired; request a new one.",
                field="envelope",
            )

        return clock_now

    def _spend(
        self, state: dict[str, Any], network: str, window: int, clock_now: float
    ) -> None:
        if not self.store.consume(
            "challenge", state["id"], state["exp"] + USED_ID_MARGIN
        ):
            self.visitors.note("replay", network, window, clock_now)
            raise AlreadyAnswered(
                f"The challenge with challenge_id {state['id']!r} was already"
                " answered; request a new one.",
                field="challenge_id",
            )

    def _wrong_answer(
        self, state: dict[str, Any], kind: Any, clock_now: float
    ) -> WrongAnswer | AlreadyAnswered:
        message = "The answer does not solve the challenge."

        if not getattr(kind, "limits_attempts", False):
            return WrongAnswer(message, field="answer")

        attempts = self.store.hit(
            "attempts",
            state["id"],
            self.settings.challenge_ttl + USED_ID_MARGIN,
            clock_now,
        )
        left = max(MAX_ATTEMPTS - attempts, 0)

        if attempts > MAX_ATTEMPTS:
            # Spent by the last attempt or by a replace: no answer counts now.
            return AlreadyAnswered(
                f"The challenge with challenge_id {state['id']!r} was already"
                " answered or replaced; answer the challenge that replaced it.",
                field="challenge_id",
            )

        if left:
            return WrongAnswer(message, field="answer", extra={"attempts_left": left})

        # Out of attempts: this challenge is spent, and the step becomes a
        # challenge of another kind that asks nothing to be read.
        if not self.store.consume(
            "challenge", state["id"], state["exp"] + USED_ID_MARGIN
        ):
            return WrongAnswer(message, field="answer", extra={"attempts_left": 0})

        step = Step("timing", {"mode": "wait"})
        following = self._start_step(
            _flow_of(state), state["step"], state["done"], clock_now, step=step
        )
        return WrongAnswer(
            message + " No attempts are left; answer the next challenge instead.",
            field="answer",
            extra={"attempts_left": 0, "next": following},
        )

    def _note_speed(
        self,
        kind: Any,
        params: dict[str, Any],
        elapsed_ms: float,
        report: dict[str, Any] | None,
        network: str,
        window: int,
        clock_now: float,
    ) -> None:
        """Count answers that came faster than a browser or a person can."""
        if kind.name == "pow":
            hashes = params["puzzles"] * 2 ** params["bits"]
            implied_rate = hashes / max(elapsed_ms / 1000, 1e-3)
            reported = (report or {}).get("hash_rate")

            # Elapsed server time includes the network, so the implied rate
            # is a lower bound of the solver's real rate.
            if implied_rate > PLAUSIBLE_HASH_RATE or (
                reported and implied_rate > 3 * reported
            ):
                self.visitors.note("fast-solve", network, window, clock_now)
        elif kind.cognitive and elapsed_ms < MIN_READING_MS:
            self.visitors.note("fast-answer", network, window, clock_now)

    def _pass_token(
        self, state: dict[str, Any], done: list[str], clock_now: float
    ) -> dict[str, Any]:
        now = int(clock_now)
        expires_at = now + self.settings.token_ttl
        payload = {
            "jti": secrets.token_urlsafe(12),
            "site": state["site"],
            "action": state["action"],
            "host": state["host"],
            "level": state["level"],
            "kinds": done,
            "reasons": state["reasons"],
            "rt": state.get("rt") is True,
            "iat": now,
            "exp": expires_at,
        }

        # Only a flow with a risk ticket counts against a subject's quota.
        if state["q"]:
            payload["q"] = state["q"]

        token = self.signer.sign(PASS_TOKEN, payload)
        logger.debug("passed level=%s", state["level"])
        return {
            "pass_token": token,
            "expires_at": isoformat(expires_at),
            "expires_in": _seconds_left(expires_at, clock_now),
        }

    # Verify.

    def verify(self, fields: dict[str, str | None]) -> dict[str, Any]:
        """Verify a pass token for a portal, in the siteverify convention.

        The checks run in this order, and the first failure is the answer:
        secret present, response present, secret known, site key matches,
        token signature, token site, token expiry, quota, single use.
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

        now = self.clock()

        if self.settings.test_keys:
            if hmac.compare_digest(
                secret.encode(), testkeys.ALWAYS_PASS_SECRET.encode()
            ):
                return _test_success(now)

            if hmac.compare_digest(
                secret.encode(), testkeys.ALWAYS_FAIL_SECRET.encode()
            ):
                return _failure("invalid-input-response")

        # 2. The secret names the site; a token of another site is invalid.
        site = self.site_by_secret(secret, now)

        if site is None:
            return _failure("invalid-input-secret")

        result = self._verify_for_site(site, fields, response, now)

        if not result["success"]:
            self._audit(
                "verify",
                site,
                result.get("action", ""),
                now,
                outcome=result["error-codes"][-1],
            )

        return result

    def _verify_for_site(
        self, site: Site, fields: dict[str, str | None], response: str, now: float
    ) -> dict[str, Any]:
        sitekey = fields.get("sitekey")

        if sitekey and not hmac.compare_digest(sitekey.encode(), site.sitekey.encode()):
            return _failure("sitekey-secret-mismatch")

        try:
            token = self.signer.load(PASS_TOKEN, response)
        except InvalidSignature:
            return _failure("invalid-input-response")

        if token.get("site") != site.sitekey:
            return _failure("invalid-input-response")

        # 3. Expiry, quota, then single use.
        if now >= token["exp"]:
            return _failure("timeout-or-duplicate", "expired-input-response")

        result = {
            "success": True,
            "challenge_ts": isoformat(token["iat"]),
            "hostname": token["host"],
            "action": token["action"],
            "level": token["level"],
            "kinds": token["kinds"],
            "reasons": token.get("reasons", []),
            # Tokens signed before the field existed carry no "rt".
            "risk_ticket": token.get("rt") is True,
            "error-codes": [],
        }
        quota = self._quota(site, token)
        took_slot = False

        if quota is not None:
            limit, window = quota
            allowed, frees_at = self.store.take_quota(
                "quota", _quota_key(token), token["jti"], limit, window, now
            )
            # An entry already in the log was taken by an earlier verify of
            # this token; only a slot taken by this call may be released.
            took_slot = allowed and frees_at is None

            if not allowed:
                failure = _failure("quota-exceeded")
                failure["action"] = token["action"]
                failure["quota_frees_at"] = isoformat(math.ceil(frees_at or now))
                return failure

        key = fields.get("idempotency_key")

        try:
            outcome, stored = self.store.redeem(
                site.id,
                token["jti"],
                token["exp"] + USED_ID_MARGIN,
                key,
                json.dumps(result) if key else "",
            )
        except StoreUnavailable:
            # The token stays unspent, so the slot it took must not stay
            # taken; if the release fails too, the slot frees with its window.
            if took_slot:
                self._release_quietly(token)

            raise

        if outcome is Redemption.REPLAYED:
            return json.loads(stored)

        # A duplicate keeps its quota entry: the entry belongs to this token,
        # which another verify, maybe a concurrent one, spent successfully.
        if outcome is Redemption.DUPLICATE:
            return _failure("timeout-or-duplicate", "already-seen-response")

        self._audit(
            "verify",
            site,
            token["action"],
            now,
            outcome="success",
            level=token["level"],
            reasons=result["reasons"],
            risk_ticket=result["risk_ticket"],
        )
        logger.debug("verified site=%s level=%s", site.id, token["level"])
        return result

    def _release_quietly(self, token: dict[str, Any]) -> None:
        try:
            self.store.release_quota("quota", _quota_key(token), token["jti"])
        except StoreUnavailable as error:
            logger.warning("could not release a quota slot: %s", error)

    def _quota(self, site: Site, token: dict[str, Any]) -> tuple[int, int] | None:
        if not token.get("q"):
            return None

        return self.policies.get(site).quotas.get(token["action"])

    def _audit(
        self, event: str, site: Site, action: str, now: float, **fields: Any
    ) -> None:
        self.audit.record(
            {"event": event, "site_id": site.id, "action": action, **fields}, now
        )


def _available(step: Step) -> tuple[Any, dict[str, Any]]:
    """Return the kind of ``step`` and its options, or a wait where it is missing."""
    try:
        return challenges.get(step.kind), dict(step.options)
    except challenges.UnknownKind:
        # NOTE: a plan may name a kind this build does not offer; the visitor
        # then waits instead, which every level allows.
        return challenges.get("timing"), {"mode": "wait"}


def _required_ms(kind: Any, params: dict[str, Any]) -> int:
    """Return how long after issue a step may be answered; 0 unless it is timed."""
    return kind.required_ms(params) if hasattr(kind, "required_ms") else 0


def _test_success(now: float) -> dict[str, Any]:
    return {
        "success": True,
        "challenge_ts": isoformat(now),
        "hostname": "localhost",
        "action": "test",
        "level": 0,
        "kinds": [],
        "reasons": [],
        "risk_ticket": False,
        "error-codes": [],
    }


def _quota_key(token: dict[str, Any]) -> str:
    return f"{token['action']}:{token['q']}"


def _flow_of(state: dict[str, Any]) -> dict[str, Any]:
    flow = {
        name: state[name]
        for name in ("site", "action", "host", "lang", "level", "steps", "reasons", "q")
    }
    # Envelopes signed before "rt" existed stay valid until they expire.
    flow["rt"] = state.get("rt") is True
    return flow


def _choice_key(choice: dict[str, Any]) -> tuple[Any, Any]:
    return choice.get("kind"), choice.get("mode")


def _seconds_left(expires_at: int, clock_now: float) -> int:
    # Signed times are whole seconds, so a value issued at 100.7 with a 300 s
    # lifetime expires at 400: 299 seconds left, not 300.
    return int(expires_at - clock_now)


def _failure(*codes: str) -> dict[str, Any]:
    return {"success": False, "error-codes": list(codes)}
