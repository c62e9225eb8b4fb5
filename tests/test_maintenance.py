"""The purge job and the commands that manage policies and purges."""

from __future__ import annotations

import json
import threading

from challenge_service.maintenance import PurgeJob
from challenge_service.policies import Policies
from challenge_service.storage import SQLiteStore
from servers import cli

DAY = 86400


def _job(store, clock, interval=3600):
    return PurgeJob(store, clock, 180 * DAY, DAY, interval)


def test_purge_job_runs_once_per_interval(store, clock):
    first = _job(store, clock)
    second = _job(store, clock)

    assert first.run_if_due() is not None
    assert second.run_if_due() is None
    assert first.run_if_due() is None

    clock.advance(3600 * 1.2)

    assert second.run_if_due() is not None


def test_purge_job_deletes_old_events_only(store, clock):
    store.record_event({"event": "challenge", "site_id": 1}, clock())
    clock.advance(181 * DAY)
    store.record_event({"event": "verify", "site_id": 1}, clock())

    deleted = _job(store, clock).run_if_due()

    assert deleted["events"] == 1
    remaining = store.events(0, clock() + 1, 10)
    assert [event["event"] for event in remaining] == ["verify"]


def test_purge_job_deletes_old_rate_data(store, clock):
    store.hit("net", "a", 600, clock())
    clock.advance(2 * DAY)

    deleted = _job(store, clock).run_if_due()

    assert deleted["counters"] >= 1
    assert store.count("net", "a", 600, clock()) == 0


def test_purge_job_off_with_zero_interval(store, clock):
    job = _job(store, clock, interval=0)
    before = _purge_threads()

    job.start()

    assert _purge_threads() == before


def test_purge_job_starts_one_thread(store, clock):
    job = _job(store, clock, interval=3600)
    before = _purge_threads()

    job.start()
    job.start()

    assert _purge_threads() == before + 1


def _purge_threads() -> int:
    return sum(thread.name == "purge" for thread in threading.enumerate())


def _sitekey(data_dir):
    added = cli(
        "sites",
        "add",
        "--name",
        "Pool",
        "--hostname",
        "pool.example.fr",
        env={"CHALLENGE_SERVICE_DATA_DIR": str(data_dir)},
    )
    assert added.returncode == 0, added.stderr
    return added.stdout.split()[2]


def test_sites_policy_sets_and_shows(tmp_path):
    env = {"CHALLENGE_SERVICE_DATA_DIR": str(tmp_path)}
    sitekey = _sitekey(tmp_path)

    changed = cli(
        "sites",
        "policy",
        sitekey,
        "--set",
        "floor=2",
        "--set",
        'quotas={"book": [2, 604800]}',
        env=env,
    )
    shown = cli("sites", "policy", sitekey, env=env)

    assert changed.returncode == 0, changed.stderr
    policy = json.loads(shown.stdout)
    assert policy["floor"] == 2
    assert policy["quotas"] == {"book": [2, 604800]}
    store = SQLiteStore(tmp_path / "challenge-service.sqlite3")
    assert Policies(store).get(store.site_by_sitekey(sitekey)).floor == 2


def test_sites_policy_requires_risk_ticket(tmp_path):
    env = {"CHALLENGE_SERVICE_DATA_DIR": str(tmp_path)}
    sitekey = _sitekey(tmp_path)

    changed = cli(
        "sites", "policy", sitekey, "--set", "require_risk_ticket=true", env=env
    )

    assert changed.returncode == 0, changed.stderr
    store = SQLiteStore(tmp_path / "challenge-service.sqlite3")
    policy = Policies(store).get(store.site_by_sitekey(sitekey))
    assert policy.require_risk_ticket is True


def test_sites_policy_reset(tmp_path):
    env = {"CHALLENGE_SERVICE_DATA_DIR": str(tmp_path)}
    sitekey = _sitekey(tmp_path)
    cli("sites", "policy", sitekey, "--set", "floor=2", env=env)

    reset = cli("sites", "policy", sitekey, "--reset", env=env)

    assert json.loads(reset.stdout.split("\n", 1)[1])["floor"] == 0


def test_sites_policy_rejects_bad_values_unchanged(tmp_path):
    env = {"CHALLENGE_SERVICE_DATA_DIR": str(tmp_path)}
    sitekey = _sitekey(tmp_path)

    for change, message in [
        ("floor=9", "floor"),
        ("floor", "no '='"),
        ("floor=one", "not JSON"),
        ("colour=1", "Unknown policy fields"),
        ("thresholds=[0.9, 0.1, 0.2, 0.3]", "thresholds"),
        ('require_risk_ticket="yes"', "require_risk_ticket must be true or false"),
    ]:
        result = cli("sites", "policy", sitekey, "--set", change, env=env)

        assert result.returncode != 0, change
        assert message in result.stderr, (change, result.stderr)

    shown = cli("sites", "policy", sitekey, env=env)
    assert json.loads(shown.stdout)["floor"] == 0


def test_sites_policy_unknown_site(tmp_path):
    result = cli(
        "sites",
        "policy",
        "site_nope",
        env={"CHALLENGE_SERVICE_DATA_DIR": str(tmp_path)},
    )

    assert result.returncode != 0
    assert "No site has the site key" in result.stderr


def test_purge_command_reports_counts(tmp_path):
    result = cli("purge", env={"CHALLENGE_SERVICE_DATA_DIR": str(tmp_path)})

    assert result.returncode == 0, result.stderr
    assert "Deleted 0 events records." in result.stdout
