"""Settings: environment parsing, validation and demo keys."""

from __future__ import annotations

import json

import pytest

from challenge_service import create_app
from challenge_service.config import ConfigError
from challenge_service.config import load_env
from challenge_service.signing import PASS_TOKEN


def test_load_env_parses_types():
    values = load_env(
        {
            "CHALLENGE_SERVICE_TOKEN_TTL": "120",
            "CHALLENGE_SERVICE_DEMO": "yes",
            "CHALLENGE_SERVICE_SIGNING_KEYS": "old-key , new-key",
            "OTHER_TOKEN_TTL": "5",
        }
    )

    assert values == {
        "TOKEN_TTL": 120,
        "DEMO": True,
        "SIGNING_KEYS": ["old-key", "new-key"],
    }


@pytest.mark.parametrize(
    ("name", "raw", "message"),
    [
        ("TOKEN_TTL", "five", "not a whole number of seconds"),
        ("DEMO", "maybe", "not a boolean"),
        ("MAX_BODY_BYTES", "1.5", "not a whole number of bytes"),
    ],
)
def test_load_env_rejects_bad_values(name, raw, message):
    with pytest.raises(ConfigError, match=message):
        load_env({f"CHALLENGE_SERVICE_{name}": raw})


def test_missing_signing_key_stops_start(tmp_path):
    with pytest.raises(ConfigError, match="CHALLENGE_SERVICE_SIGNING_KEYS"):
        create_app({"DATA_DIR": str(tmp_path)})


@pytest.mark.parametrize(
    "key",
    [
        "change-me",
        "short-key",
        "a" * 40,
        "change-me-change-me-change-me-change-me",
        "my-example-key-0123456789abcdefghijkl",
        "$(python -c 'import secrets; print(secrets.token_urlsafe(32))')",
    ],
)
def test_placeholder_signing_key_stops_start(tmp_path, key):
    with pytest.raises(ConfigError, match="contains a placeholder"):
        create_app({"DATA_DIR": str(tmp_path), "SIGNING_KEYS": [key]})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TOKEN_TTL", 1_722_482_693_000),
        ("TOKEN_TTL", 0),
        ("CHALLENGE_TTL", -5),
        ("CHALLENGE_TTL", 3601),
        ("MAX_BODY_BYTES", 10),
    ],
)
def test_out_of_range_lifetime_stops_start(tmp_path, name, value):
    settings = {
        "DATA_DIR": str(tmp_path),
        "SIGNING_KEYS": ["config-test-key-0123456789abcdefghij"],
        name: value,
    }

    with pytest.raises(ConfigError, match=f"CHALLENGE_SERVICE_{name}={value}"):
        create_app(settings)


def test_demo_mode_generates_shared_keys(tmp_path):
    first = create_app({"DATA_DIR": str(tmp_path), "DEMO": True})
    second = create_app({"DATA_DIR": str(tmp_path), "DEMO": True})
    token = first.extensions["challenge_service"].signer.sign(PASS_TOKEN, {"a": 1})
    key_file = tmp_path / "signing-keys.json"

    assert second.extensions["challenge_service"].signer.load(PASS_TOKEN, token) == {
        "a": 1
    }
    assert len(json.loads(key_file.read_text())) == 1
    assert key_file.stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("raw", ["3_00", "٣٠٠", "300s", "1e3"])
def test_load_env_rejects_odd_numbers(raw):
    with pytest.raises(ConfigError, match="not a whole number of seconds"):
        load_env({"CHALLENGE_SERVICE_TOKEN_TTL": raw})
