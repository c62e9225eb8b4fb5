"""Creation of sites and handling of their keys and secrets."""

from __future__ import annotations

import hashlib
import ipaddress
import re
import secrets

from .storage import Site
from .storage import Store

SITEKEY_PREFIX = "site_"
SECRET_PREFIX = "secret_"

_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)


def hash_secret(secret: str) -> str:
    """Return the stored form of a site secret.

    Secrets are 256 random bits, so a plain SHA-256 cannot be reversed by
    guessing and keeps the verify endpoint fast; a slow password hash would
    add nothing here.
    """
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_hostname(hostname: str) -> str:
    """Return ``hostname`` in lower case, or raise ValueError naming the fix."""
    value = hostname.strip().lower().rstrip(".")

    if "://" in value or "/" in value or ":" in value:
        raise ValueError(
            f"{hostname!r} is not a bare hostname; give the host only, without"
            " scheme, port or path, for example booking.example.fr."
        )

    if _looks_like_ipv4(value):
        try:
            ipaddress.IPv4Address(value)
        except ValueError:
            raise ValueError(f"{hostname!r} is not a valid IPv4 address.") from None
    elif not _HOSTNAME.match(value):
        raise ValueError(
            f"{hostname!r} is not a valid hostname; write an internationalized"
            " name in its ASCII form (punycode), such as xn--crteil-cva.fr for"
            " créteil.fr."
        )

    return value


def _looks_like_ipv4(value: str) -> bool:
    return all(part.isdigit() for part in value.split("."))


def create_site(
    store: Store,
    name: str,
    hostnames: list[str],
    now: float,
    demo: bool = False,
) -> tuple[Site, str]:
    """Create a site; return it with its secret, which is never stored in clear."""
    if not name.strip():
        raise ValueError("The site name is empty; give a name such as 'Piscine'.")

    if not hostnames:
        raise ValueError("A site needs at least one hostname.")

    normalized = tuple(dict.fromkeys(normalize_hostname(h) for h in hostnames))
    sitekey = SITEKEY_PREFIX + secrets.token_urlsafe(16)
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    site = store.add_site(
        name.strip(), sitekey, hash_secret(secret), normalized, now, demo=demo
    )
    return site, secret


def rotate_secret(
    store: Store, sitekey: str, now: float, grace: float
) -> tuple[Site, str] | None:
    """Give a site a new secret; the old one stays valid for ``grace`` seconds."""
    secret = SECRET_PREFIX + secrets.token_urlsafe(32)
    site = store.rotate_secret(sitekey, hash_secret(secret), now + grace)
    return None if site is None else (site, secret)
