"""Risk tickets: the portal's risk score, signed for the widget to carry.

The portal's back end asks for a ticket with its site secret, writes it into
the page, and the widget sends it with its challenge request. A ticket is
bound to its site and action and expires after a few minutes. It carries two
keyed hashes of the portal's subject id instead of the id itself: one for the
day's risk signals, one stable for the subject's quotas.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any

from .errors import InvalidRiskTicket
from .signals import Visitors
from .signing import InvalidSignature
from .signing import RISK_TICKET
from .signing import Signer
from .storage import Site

#: Short codes a portal may attach to explain its score.
REASON_CODE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,31}$")

MAX_REASONS = 8


@dataclasses.dataclass(frozen=True)
class Ticket:
    """What a valid ticket tells the service about a visitor."""

    risk: float
    subject: str
    quota_subject: str
    reasons: tuple[str, ...]


class RiskTickets:
    """Sign risk tickets for portals and read them back for the widget."""

    def __init__(self, signer: Signer, visitors: Visitors, ttl: int) -> None:
        self.signer = signer
        self.visitors = visitors
        self.ttl = ttl

    def sign(
        self,
        site: Site,
        action: str,
        subject: str,
        risk: float,
        reasons: list[str],
        now: float,
    ) -> tuple[str, int]:
        """Return a new ticket and its expiry time, in seconds since the epoch."""
        expires_at = int(now) + self.ttl
        ticket = self.signer.sign(
            RISK_TICKET,
            {
                "site": site.sitekey,
                "action": action,
                "risk": risk,
                "s": self.visitors.subject(site.id, subject, now),
                "q": self.visitors.quota_subject(site.id, subject),
                "reasons": reasons,
                "exp": expires_at,
            },
        )
        return ticket, expires_at

    def read(self, ticket: str, site: Site, action: str, now: float) -> Ticket:
        """Return the content of a ticket for this site and action.

        :raises InvalidRiskTicket: if the ticket is forged, expired, or was
            issued for another site or action. A bad ticket is never read as
            a low risk.
        """
        try:
            payload: dict[str, Any] = self.signer.load(RISK_TICKET, ticket)
        except InvalidSignature:
            raise InvalidRiskTicket(
                "risk_ticket is not a ticket issued by this service; pass the"
                " ticket exactly as POST /api/v1/risk-tickets returned it.",
                field="risk_ticket",
            ) from None

        if payload.get("site") != site.sitekey:
            raise InvalidRiskTicket(
                "risk_ticket was issued for another site.", field="risk_ticket"
            )

        if payload.get("action") != action:
            raise InvalidRiskTicket(
                f"risk_ticket was issued for the action {payload.get('action')!r},"
                f" not {action!r}; request a ticket for this action.",
                field="risk_ticket",
            )

        if now >= payload["exp"]:
            raise InvalidRiskTicket(
                "risk_ticket expired; the portal must request a new ticket when"
                " it renders the page.",
                field="risk_ticket",
            )

        return Ticket(
            risk=float(payload["risk"]),
            subject=payload["s"],
            quota_subject=payload["q"],
            reasons=tuple(payload["reasons"]),
        )
