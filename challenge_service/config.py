"""Settings: defaults, environment variables and validation.

Every setting can be given as an environment variable named with the
``CHALLENGE_SERVICE_`` prefix, for example ``CHALLENGE_SERVICE_TOKEN_TTL=120``.
This module is the only place that reads the environment.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

ENV_PREFIX = "CHALLENGE_SERVICE_"

#: Lower and upper bounds, in seconds, of every lifetime a caller can set.
MIN_TTL = 10
MAX_TTL = 3600

#: Shortest signing key accepted, in characters.
MIN_KEY_LENGTH = 32

#: Minimum number of distinct characters in a signing key. 32 random
#: hexadecimal digits almost always have more than 10; a repeated word or
#: letter has fewer.
MIN_DISTINCT_CHARACTERS = 10

#: URL schemes of a Redis store.
REDIS_SCHEMES = ("redis://", "rediss://", "unix://")

#: Values that people paste from examples; the service rejects them as keys.
PLACEHOLDER_KEYS = frozenset({"change-me", "changeme", "placeholder", "example"})

DEFAULTS: dict[str, Any] = {
    # Signing keys, oldest first: the last one signs, all of them verify.
    "SIGNING_KEYS": [],
    # Folder for the SQLite store and, in demo mode, the generated keys.
    "DATA_DIR": "challenge-data",
    # Redis URL of a store shared by several instances; empty for SQLite.
    "STORE_URL": "",
    # Demo mode: generate keys on first start and create the localhost site.
    "DEMO": False,
    # Seconds a challenge can be answered after it was issued.
    "CHALLENGE_TTL": 300,
    # Seconds a pass token can be verified after it was issued.
    "TOKEN_TTL": 300,
    # Seconds an old site secret keeps working after ``sites rotate-secret``.
    "SECRET_GRACE": 86400,
    # Largest request body accepted, in bytes.
    "MAX_BODY_BYTES": 16384,
    # Seconds a risk ticket can be used after the portal requested it.
    "RISK_TICKET_TTL": 300,
    # Seconds of one epoch; each epoch selects other challenge variants.
    "EPOCH_SECONDS": 86400,
    # Reverse proxies in front of the service whose X-Forwarded-For is
    # trusted; 0 takes the address of the connection itself.
    "PROXY_HOPS": 0,
    # Create the published test site keys and accept their test secrets.
    "TEST_KEYS": True,
    # Let the portal's risk and the observed signals choose each level; off,
    # every challenge of a site is at the floor of its policy.
    "ADAPTIVE": True,
    # Milliseconds between writes of the counted challenge requests of one
    # process; 0 writes each at once.
    "COUNTER_FLUSH_MS": 100,
    # Milliseconds between writes of queued audit events; 0 writes each at once.
    "AUDIT_FLUSH_MS": 1000,
    # Seconds audit events are kept (180 days).
    "AUDIT_RETENTION": 180 * 86400,
    # Seconds rate counters and quota logs are kept past their windows.
    "RATE_RETENTION": 86400,
    # Seconds between automatic purges; 0 turns the automatic purge off.
    "PURGE_INTERVAL": 3600,
}

#: Bounds of the integer settings, checked at start.
_INT_BOUNDS = {
    "CHALLENGE_TTL": (MIN_TTL, MAX_TTL),
    "TOKEN_TTL": (MIN_TTL, MAX_TTL),
    "SECRET_GRACE": (0, 30 * 86400),
    "MAX_BODY_BYTES": (1024, 1024 * 1024),
    "RISK_TICKET_TTL": (MIN_TTL, MAX_TTL),
    "EPOCH_SECONDS": (60, 30 * 86400),
    "PROXY_HOPS": (0, 5),
    "AUDIT_RETENTION": (86400, 10 * 366 * 86400),
    "RATE_RETENTION": (3600, 30 * 86400),
    "PURGE_INTERVAL": (0, 7 * 86400),
    "AUDIT_FLUSH_MS": (0, 60_000),
    "COUNTER_FLUSH_MS": (0, 10_000),
}

_WHOLE_NUMBER = re.compile(r"-?[0-9]+")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class ConfigError(Exception):
    """Raised when a setting is missing or invalid; the message names the fix."""


def load_env(environ: os._Environ[str] | dict[str, str] | None = None) -> dict:
    """Read every known setting from prefixed environment variables."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}

    for name, default in DEFAULTS.items():
        raw = environ.get(ENV_PREFIX + name)

        if raw is None:
            continue

        values[name] = _parse(name, raw, default)

    return values


def _parse(name: str, raw: str, default: Any) -> Any:
    env_name = ENV_PREFIX + name

    if isinstance(default, bool):
        lowered = raw.strip().lower()

        if lowered in _TRUE:
            return True

        if lowered in _FALSE:
            return False

        raise ConfigError(f"{env_name}={raw!r} is not a boolean; use 1 or 0.")

    if isinstance(default, int):
        # int() would also take "3_00" and non-ASCII digits.
        if not _WHOLE_NUMBER.fullmatch(raw.strip()):
            raise ConfigError(
                f"{env_name}={raw!r} is not a whole number of {unit_of(name)}."
            )

        return int(raw)

    if isinstance(default, list):
        return [part.strip() for part in raw.split(",") if part.strip()]

    return raw


def unit_of(name: str) -> str:
    """Return the unit of the integer setting ``name``, for messages."""
    if name.endswith("_BYTES"):
        return "bytes"

    if name.endswith("_MS"):
        return "milliseconds"

    if name == "PROXY_HOPS":
        return "proxies"

    return "seconds"


def validate(config: dict) -> None:
    """Check every setting and raise :class:`ConfigError` naming the fix."""
    validate_without_keys(config)

    for key in config["SIGNING_KEYS"]:
        if not is_random_key(key):
            raise ConfigError(
                f"{ENV_PREFIX}SIGNING_KEYS contains a placeholder, a command that"
                " was not run, or a key shorter than"
                f" {MIN_KEY_LENGTH} characters or with fewer than"
                f" {MIN_DISTINCT_CHARACTERS} different characters; replace it with"
                " the output of"
                " `python -c 'import secrets; print(secrets.token_urlsafe(32))'`."
            )


def validate_without_keys(config: dict) -> None:
    """Check the settings that commands without signing keys use too."""
    for name, (low, high) in _INT_BOUNDS.items():
        value = config[name]
        unit = unit_of(name)

        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{ENV_PREFIX}{name} must be a whole number of {unit}.")

        if not low <= value <= high:
            raise ConfigError(
                f"{ENV_PREFIX}{name}={value} is out of range; use {low} to"
                f" {high} {unit}."
            )

    store_url = config["STORE_URL"]

    if store_url and not store_url.startswith(REDIS_SCHEMES):
        raise ConfigError(
            f"{ENV_PREFIX}STORE_URL={store_url!r} is not a Redis URL; use"
            " redis://HOST:PORT/DB, rediss:// for TLS or unix:///PATH, or leave"
            " it empty for the SQLite store in the data folder."
        )


def is_random_key(key: str) -> bool:
    """Return whether ``key`` can be a random signing key, not a placeholder."""
    lowered = key.lower()

    if len(key) < MIN_KEY_LENGTH or len(set(key)) < MIN_DISTINCT_CHARACTERS:
        return False

    # A shell substitution copied into an env file instead of its output.
    if "$(" in key or "`" in key or "secrets." in lowered:
        return False

    return not any(word in lowered for word in PLACEHOLDER_KEYS)


def missing_keys_error(key_file: Path) -> ConfigError:
    """Return the error for a start with no signing key, saying what to set."""
    return ConfigError(
        f"No signing key is set. Set {ENV_PREFIX}SIGNING_KEYS to a random value of"
        f" at least {MIN_KEY_LENGTH} characters, the same on every instance (for"
        " example the output of"
        " `python -c 'import secrets; print(secrets.token_urlsafe(32))'`), or"
        f" create {key_file} with `challenge-service keys rotate` and give every"
        " instance the same file, or start with --demo for a local trial."
    )
