"""The operator commands."""

from __future__ import annotations

import json
import os
import stat

import pytest
from click.testing import CliRunner

from challenge_service import create_app
from challenge_service import DATABASE_NAME
from challenge_service.cli import _ensure_demo_site
from challenge_service.cli import DEMO_SITE_FILE
from challenge_service.cli import main
from challenge_service.sites import hash_secret
from challenge_service.storage import SQLiteStore
from tests.conftest import SIGNING_KEY


def _run(*args: str):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def _add(data_dir, *hostnames: str) -> dict[str, str]:
    options = [item for host in hostnames for item in ("--hostname", host)]
    result = _run(
        "sites", "add", "--name", "Pool", *options, "--data-dir", str(data_dir)
    )
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    return {
        "sitekey": lines[0].split(":", 1)[1].strip(),
        "secret": lines[1].split(":", 1)[1].strip(),
    }


def test_sites_add_prints_key_and_secret(tmp_path):
    created = _add(tmp_path, "Booking.Example.fr", "localhost")
    site = SQLiteStore(tmp_path / DATABASE_NAME).site_by_sitekey(created["sitekey"])

    assert created["sitekey"].startswith("site_")
    assert created["secret"].startswith("secret_")
    assert site.hostnames == ("booking.example.fr", "localhost")
    assert site.secret_hash == hash_secret(created["secret"])


def test_secret_is_stored_only_as_hash(tmp_path):
    created = _add(tmp_path, "localhost")
    database = (tmp_path / DATABASE_NAME).read_bytes()

    assert created["secret"].encode() not in database


def test_sites_list_shows_sites(tmp_path):
    created = _add(tmp_path, "localhost")

    result = _run("sites", "list", "--data-dir", str(tmp_path))

    assert created["sitekey"] in result.output
    assert "Pool" in result.output
    assert created["secret"] not in result.output


def test_sites_add_rejects_url_as_hostname(tmp_path):
    result = _run(
        "sites",
        "add",
        "--name",
        "Pool",
        "--hostname",
        "https://x.fr/",
        "--data-dir",
        str(tmp_path),
    )

    assert result.exit_code == 2
    assert "not a bare hostname" in result.output


def test_rotate_secret_keeps_old_for_grace(tmp_path):
    created = _add(tmp_path, "localhost")

    result = _run(
        "sites",
        "rotate-secret",
        created["sitekey"],
        "--grace",
        "120",
        "--data-dir",
        str(tmp_path),
    )
    new_secret = result.output.splitlines()[0].split(":", 1)[1].strip()
    store = SQLiteStore(tmp_path / DATABASE_NAME)
    site = store.site_by_sitekey(created["sitekey"])

    assert result.exit_code == 0
    assert new_secret != created["secret"]
    assert site.secret_hash == hash_secret(new_secret)
    assert site.previous_secret_hash == hash_secret(created["secret"])
    assert store.site_by_secret_hash(
        hash_secret(created["secret"]), site.previous_secret_expires - 1
    )
    assert (
        store.site_by_secret_hash(
            hash_secret(created["secret"]), site.previous_secret_expires
        )
        is None
    )


def test_rotate_secret_of_unknown_site_fails(tmp_path):
    result = CliRunner().invoke(
        main, ["sites", "rotate-secret", "site_nope", "--data-dir", str(tmp_path)]
    )

    assert result.exit_code == 1
    assert "No site has the site key 'site_nope'" in result.output


def test_purge_deletes_expired_records(tmp_path):
    store = SQLiteStore(tmp_path / DATABASE_NAME)
    store.consume("challenge", "old", expires_at=1.0)
    store.consume("challenge", "new", expires_at=4_000_000_000.0)

    result = _run("purge", "--data-dir", str(tmp_path))

    assert "Deleted 1 used records." in result.output
    assert store.consume("challenge", "old", expires_at=1.0) is True
    assert store.consume("challenge", "new", expires_at=4_000_000_000.0) is False


def test_rotate_secret_checks_grace_from_environment(tmp_path, monkeypatch):
    created = _add(tmp_path, "localhost")
    monkeypatch.setenv("CHALLENGE_SERVICE_SECRET_GRACE", "999999999999")

    result = CliRunner().invoke(
        main,
        ["sites", "rotate-secret", created["sitekey"], "--data-dir", str(tmp_path)],
    )

    assert result.exit_code == 1
    assert (
        "CHALLENGE_SERVICE_SECRET_GRACE=999999999999 is out of range" in result.output
    )


def test_second_rotation_warns_grace_ends(tmp_path):
    created = _add(tmp_path, "localhost")
    args = ["sites", "rotate-secret", created["sitekey"], "--grace", "600"]

    first = _run(*args, "--data-dir", str(tmp_path))
    second = _run(*args, "--data-dir", str(tmp_path))

    assert "stopped working now" not in first.output
    assert "stopped working now" in second.output


def test_data_dir_that_is_a_file_is_reported(tmp_path, monkeypatch):
    not_a_folder = tmp_path / "file"
    not_a_folder.write_text("x")
    monkeypatch.setenv("CHALLENGE_SERVICE_DATA_DIR", str(not_a_folder))

    result = CliRunner().invoke(main, ["sites", "list"])

    assert result.exit_code == 1
    assert "Check CHALLENGE_SERVICE_DATA_DIR" in result.output


def test_database_is_private(tmp_path):
    _add(tmp_path, "localhost")

    assert (tmp_path / DATABASE_NAME).stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("stale_file", [False, True])
def test_demo_site_file_is_private(tmp_path, stale_file):
    # A file from another data folder names a site this store lacks, so it is
    # replaced.
    path = tmp_path / DEMO_SITE_FILE

    if stale_file:
        path.write_text(json.dumps({"sitekey": "site_gone", "secret": "old"}))
        path.chmod(0o644)

    app = create_app({"DATA_DIR": str(tmp_path), "SIGNING_KEYS": [SIGNING_KEY]})
    previous_umask = os.umask(0o022)

    try:
        sitekey = _ensure_demo_site(app)
    finally:
        os.umask(previous_umask)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text())["sitekey"] == sitekey


@pytest.mark.parametrize(
    ("hostname", "message"),
    [
        ("999.999.999.999", "not a valid IPv4 address"),
        ("créteil.fr", "xn--crteil-cva.fr"),
    ],
)
def test_sites_add_rejects_bad_hostnames(tmp_path, hostname, message):
    result = _run(
        "sites",
        "add",
        "--name",
        "Pool",
        "--hostname",
        hostname,
        "--data-dir",
        str(tmp_path),
    )

    assert result.exit_code == 2
    assert message in result.output


def _audited_store(tmp_path):
    """Return a store with two sites' events and the first site's key."""
    created = _add(tmp_path, "localhost")
    other = _add(tmp_path, "rink.example.fr")
    store = SQLiteStore(tmp_path / DATABASE_NAME)
    first = store.site_by_sitekey(created["sitekey"])
    second = store.site_by_sitekey(other["sitekey"])
    # At 2026-12-05T08:00:00Z, then 1 s and 2.25 s later.
    store.record_event({"event": "challenge", "site_id": first.id}, 1_796_457_600.0)
    store.record_event({"event": "verify", "site_id": second.id}, 1_796_457_601.0)
    store.record_event({"event": "answer", "site_id": first.id}, 1_796_457_602.25)
    return created["sitekey"]


def test_audit_prints_site_events(tmp_path):
    sitekey = _audited_store(tmp_path)

    result = _run(
        "audit",
        "--site",
        sitekey,
        "--since",
        "2026-12-05",
        "--until",
        "2026-12-05T09:00:05+01:00",
        "--data-dir",
        str(tmp_path),
    )

    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [line["event"] for line in lines] == ["challenge", "answer"]
    assert lines[1]["time"] == "2026-12-05T08:00:02.250Z"


def test_audit_limit_tells_how_to_read_on(tmp_path):
    _audited_store(tmp_path)

    result = CliRunner().invoke(
        main,
        ["audit", "--since", "2026-12-05", "--until", "2026-12-06", "--limit", "2"]
        + ["--data-dir", str(tmp_path)],
    )

    assert result.exit_code == 0
    assert len(result.stdout.splitlines()) == 2
    assert "--since 2026-12-05T08:00:01.000Z" in result.stderr


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--since", "yesterday"], "'yesterday' is not an ISO 8601 date"),
        (["--until", "9999-01-01"], "before the year 5000"),
        (["--since", "2026-12-06", "--until", "2026-12-05"], "--since is after"),
        (["--site", "site_unknown"], "No site has the site key 'site_unknown'"),
        (["--limit", "0"], "0 is not in the range"),
    ],
)
def test_audit_rejects_bad_options(tmp_path, options, message):
    _audited_store(tmp_path)

    result = CliRunner().invoke(main, ["audit", *options, "--data-dir", str(tmp_path)])

    assert result.exit_code != 0
    assert message in result.output
    assert "Traceback" not in result.output
