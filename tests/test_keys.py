"""Signing keys in the data folder: rotation under a running service."""

from __future__ import annotations

import time

import pytest
import requests
from click.testing import CliRunner

from challenge_service import create_app
from challenge_service.cli import main
from challenge_service.config import ConfigError
from challenge_service.keys import KeyFile
from challenge_service.keys import RETIRE_MARGIN
from challenge_service.signing import PASS_TOKEN
from challenge_service.signing import Signer
from challenge_service.sites import create_site
from tests.conftest import Flow
from tests.conftest import START
from tests.servers import add_site
from tests.servers import ServiceProcess

#: Longest lifetime of a signed value with the default settings, in seconds.
MAX_LIFETIME = 300


@pytest.fixture
def key_file(tmp_path) -> KeyFile:
    key_file = KeyFile(tmp_path / "signing-keys.json")
    key_file.rotate(START - 3600)
    return key_file


@pytest.fixture
def keyed_flow(tmp_path, key_file, clock):
    app = create_app({"TESTING": True, "DATA_DIR": str(tmp_path), "CLOCK": clock})
    service = app.extensions["challenge_service"]
    # Look at the key file on every call instead of once a second.
    service.signer.reload_interval = 0
    return Flow(
        app.test_client(), *create_site(service.store, "Pool", ["localhost"], 0)
    )


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_token_from_before_rotation_verifies(keyed_flow, key_file, clock):
    token = keyed_flow.pass_token()
    key_file.rotate(clock())

    assert keyed_flow.verify(token)["success"] is True


def test_newest_key_signs_after_rotation(keyed_flow, key_file, clock):
    new_key = key_file.rotate(clock())
    token = keyed_flow.pass_token()

    assert Signer([new_key.secret]).load(PASS_TOKEN, token)["action"] == "book"


def test_retire_waits_for_longest_lifetime(key_file, clock):
    old_key = key_file.load()[0]
    new_key = key_file.rotate(clock())

    early = key_file.retire(clock() + MAX_LIFETIME, MAX_LIFETIME)
    late = key_file.retire(clock() + MAX_LIFETIME + RETIRE_MARGIN, MAX_LIFETIME)

    assert early == []
    assert late == [old_key]
    assert key_file.load() == [new_key]


def test_token_fails_after_forced_retire(keyed_flow, key_file, clock):
    token = keyed_flow.pass_token()
    key_file.rotate(clock())
    key_file.retire(clock(), MAX_LIFETIME, force=True)

    assert keyed_flow.verify(token)["error-codes"] == ["invalid-input-response"]


def test_retire_keeps_newest_key(key_file, clock):
    only_key = key_file.load()

    assert key_file.retire(clock() + 10**6, MAX_LIFETIME, force=True) == []
    assert key_file.load() == only_key


def test_key_file_is_private(key_file):
    assert key_file.path.stat().st_mode & 0o077 == 0


def test_rotate_command_adds_signing_key(tmp_path):
    first = _run("keys", "rotate", "--data-dir", str(tmp_path))
    second = _run("keys", "rotate", "--data-dir", str(tmp_path))
    listed = _run("keys", "list", "--data-dir", str(tmp_path))
    lines = listed.output.splitlines()

    assert first.output.startswith("Added signing key ")
    assert second.exit_code == 0
    assert len(lines) == 2
    assert lines[0].endswith("  verifies")
    assert lines[1].endswith("  signs and verifies")


def test_retire_command_keeps_recent_keys(tmp_path):
    _run("keys", "rotate", "--data-dir", str(tmp_path))
    _run("keys", "rotate", "--data-dir", str(tmp_path))

    result = _run("keys", "retire", "--data-dir", str(tmp_path))

    assert result.exit_code == 0
    assert "No key can be retired yet" in result.output
    assert "signed with the older key may still be alive" in result.output
    assert len(KeyFile(tmp_path / "signing-keys.json").load()) == 2


@pytest.mark.parametrize("force", [[], ["--force"]])
def test_retire_command_with_one_key(tmp_path, force):
    _run("keys", "rotate", "--data-dir", str(tmp_path))
    key_file = KeyFile(tmp_path / "signing-keys.json")
    (only_key,) = key_file.load()
    version = key_file.path.stat().st_ino

    result = _run("keys", "retire", *force, "--data-dir", str(tmp_path))

    assert result.exit_code == 0
    assert result.output == (
        f"Nothing to retire: {only_key.id} is the only signing key.\n"
    )
    assert key_file.load() == [only_key]
    assert key_file.path.stat().st_ino == version


def test_retire_command_forced_names_keys(tmp_path):
    _run("keys", "rotate", "--data-dir", str(tmp_path))
    _run("keys", "rotate", "--data-dir", str(tmp_path))
    key_file = KeyFile(tmp_path / "signing-keys.json")
    old_key, new_key = key_file.load()

    result = _run("keys", "retire", "--force", "--data-dir", str(tmp_path))

    assert result.exit_code == 0
    assert result.output == f"Retired signing key {old_key.id}.\n"
    assert key_file.load() == [new_key]


def test_rotate_refuses_environment_keys(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "CHALLENGE_SERVICE_SIGNING_KEYS", "environment-key-0123456789abcdefghij"
    )

    result = CliRunner().invoke(main, ["keys", "rotate", "--data-dir", str(tmp_path)])

    assert result.exit_code == 1
    assert "come from CHALLENGE_SERVICE_SIGNING_KEYS" in result.output


def test_list_without_key_file_says_how_to_create(tmp_path):
    result = CliRunner().invoke(main, ["keys", "list", "--data-dir", str(tmp_path)])

    assert result.exit_code == 1
    assert "challenge-service keys rotate" in result.output


def test_running_service_follows_rotation(tmp_path, monkeypatch):
    monkeypatch.delenv("CHALLENGE_SERVICE_SIGNING_KEYS", raising=False)
    key_file = KeyFile(tmp_path / "signing-keys.json")
    key_file.rotate(time.time())
    site, _ = add_site(tmp_path)
    server = ServiceProcess(
        tmp_path, {"CHALLENGE_SERVICE_SIGNING_KEYS": ""}, "--workers", "2"
    )

    try:
        new_key = key_file.rotate(time.time())
        time.sleep(1.5)
        envelopes = [_issue_envelope(server, site) for _ in range(6)]
    finally:
        server.stop()

    for envelope in envelopes:
        assert Signer([new_key.secret]).load("challenge-envelope", envelope)


def _issue_envelope(server, sitekey: str) -> str:
    response = requests.post(
        server.url + "/api/v1/challenges",
        json={"sitekey": sitekey, "action": "book"},
        headers={"Origin": "http://localhost:8081"},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return response.json()["envelope"]


FIRST_KEY = "first-shared-key-0123456789abcdefghij"
SECOND_KEY = "second-shared-key-0123456789abcdefghi"


def _start(data_dir, keys):
    return create_app({"DATA_DIR": str(data_dir), "SIGNING_KEYS": keys})


def test_instance_with_other_keys_refuses_to_start(tmp_path):
    _start(tmp_path, [FIRST_KEY])

    with pytest.raises(ConfigError, match="shared with instances that use other"):
        _start(tmp_path, [SECOND_KEY])


def test_shared_keys_check_follows_rotation(tmp_path):
    _start(tmp_path, [FIRST_KEY])
    _start(tmp_path, [FIRST_KEY, SECOND_KEY])

    # The rotated instance re-signed the stored value with the newest key, so
    # an instance that kept only that key starts too.
    assert _start(tmp_path, [SECOND_KEY])


def test_challenge_in_progress_survives_rotation(keyed_flow, key_file, clock):
    issued = keyed_flow.issue().get_json()
    key_file.rotate(clock())

    response = keyed_flow.answer(issued)

    assert response.status_code == 200
    assert keyed_flow.verify(response.get_json()["pass_token"])["success"] is True


def test_risk_ticket_from_before_rotation_works(keyed_flow, key_file, clock):
    ticket = keyed_flow.client.post(
        "/api/v1/risk-tickets",
        json={
            "secret": keyed_flow.secret,
            "subject": "h-1",
            "risk": 0.95,
            "action": "book",
        },
    ).get_json()["risk_ticket"]
    key_file.rotate(clock())

    issued = keyed_flow.issue(risk_ticket=ticket)

    assert issued.status_code == 201
    assert issued.get_json()["level"] == 4


def _image_step(keyed_flow):
    from challenge_service.policies import Policies
    from challenge_service.policy import SitePolicy

    store = keyed_flow.client.application.extensions["challenge_service"].store
    Policies(store).set(keyed_flow.site, SitePolicy(floor=3, max_level=3))
    step = keyed_flow.answer(keyed_flow.issue().get_json()).get_json()
    assert step["challenge"]["kind"] == "image"
    return step


def test_image_secret_survives_rotation_until_retired(keyed_flow, key_file, clock):
    step = _image_step(keyed_flow)
    key_file.rotate(clock())

    assert keyed_flow.client.get(step["challenge"]["image_url"]).status_code == 200

    key_file.retire(clock(), MAX_LIFETIME, force=True)
    image = keyed_flow.client.get(step["challenge"]["image_url"])
    answer = keyed_flow.client.post(
        f"/api/v1/challenges/{step['challenge_id']}/answer",
        json={"envelope": step["envelope"], "answer": {"text": "x"}},
        headers={"Origin": "http://localhost:8081"},
    )

    assert image.status_code == 400
    assert answer.status_code == 400
    assert answer.get_json()["error"] == "invalid-envelope"
