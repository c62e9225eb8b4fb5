"""Two service instances in separate processes sharing one Redis store."""

from __future__ import annotations

import concurrent.futures

import pytest
import requests

from tests.conftest import solve_challenge
from tests.redis_server import RedisServer
from tests.servers import add_site
from tests.servers import ServiceProcess

ORIGIN = "https://portal.example.fr"
SHARED_KEY = "instances-test-key-0123456789abcdefghij"

#: Concurrent verify requests for one token, spread over both instances.
RACERS = 200


@pytest.fixture(scope="module")
def instances(tmp_path_factory):
    redis_server = RedisServer(tmp_path_factory.mktemp("redis"))
    redis_server.start()
    env = {
        "CHALLENGE_SERVICE_STORE_URL": redis_server.url,
        "CHALLENGE_SERVICE_SIGNING_KEYS": SHARED_KEY,
    }
    sitekey, secret = add_site(env=env, hostname="portal.example.fr")
    servers = []

    try:
        for name in ("a", "b"):
            data_dir = tmp_path_factory.mktemp(f"instance-{name}")
            servers.append(ServiceProcess(data_dir, env, "--workers", "2"))

        yield servers, sitekey, secret
    finally:
        for server in servers:
            server.stop()

        redis_server.stop()


def _issue(server, sitekey: str) -> dict:
    response = requests.post(
        server.url + "/api/v1/challenges",
        json={"sitekey": sitekey, "action": "book"},
        headers={"Origin": ORIGIN},
        timeout=5,
    )
    assert response.status_code == 201, response.text
    return response.json()


def _answer(server, issued: dict) -> requests.Response:
    return requests.post(
        f"{server.url}/api/v1/challenges/{issued['challenge_id']}/answer",
        json={
            "envelope": issued["envelope"],
            "answer": {"nonces": solve_challenge(issued["challenge"])},
        },
        headers={"Origin": ORIGIN},
        timeout=5,
    )


def _verify(server, secret: str, token: str) -> dict:
    fields = {"secret": secret, "response": token}
    response = requests.post(server.url + "/api/v1/siteverify", data=fields, timeout=30)
    assert response.status_code == 200
    return response.json()


def test_flow_crosses_instances(instances):
    (a, b), sitekey, secret = instances
    issued = _issue(a, sitekey)
    answered = _answer(b, issued)
    token = answered.json()["pass_token"]

    assert answered.status_code == 200
    assert _answer(a, issued).status_code == 409
    assert _verify(a, secret, token)["success"] is True
    assert _verify(b, secret, token)["error-codes"] == [
        "timeout-or-duplicate",
        "already-seen-response",
    ]


def test_concurrent_verify_over_instances_succeeds_once(instances):
    (a, b), sitekey, secret = instances
    token = _answer(a, _issue(a, sitekey)).json()["pass_token"]
    targets = [a if number % 2 else b for number in range(RACERS)]

    with concurrent.futures.ThreadPoolExecutor(50) as pool:
        results = list(pool.map(lambda server: _verify(server, secret, token), targets))

    successes = [result for result in results if result["success"]]
    duplicates = [
        result
        for result in results
        if result.get("error-codes")
        == ["timeout-or-duplicate", "already-seen-response"]
    ]

    assert len(successes) == 1
    assert len(duplicates) == RACERS - 1


def test_health_reports_redis_store(instances):
    (a, b), _, _ = instances

    for server in (a, b):
        response = requests.get(server.url + "/healthz", timeout=5)

        assert response.status_code == 200
        assert response.json() == {"status": "ok", "store": "ok"}


def test_store_outage_fails_cleanly_and_recovers(tmp_path):
    redis_server = RedisServer(tmp_path / "redis", appendonly=True)
    redis_server.start()
    env = {
        "CHALLENGE_SERVICE_STORE_URL": redis_server.url,
        "CHALLENGE_SERVICE_SIGNING_KEYS": SHARED_KEY,
    }
    sitekey, secret = add_site(env=env, hostname="portal.example.fr")
    (tmp_path / "instance").mkdir()
    server = None

    try:
        server = ServiceProcess(tmp_path / "instance", env, "--workers", "2")
        token = _answer(server, _issue(server, sitekey)).json()["pass_token"]
        open_challenge = _issue(server, sitekey)
        redis_server.stop()

        # Issuing needs no store once the site is cached, but spending does.
        during = _verify(server, secret, token)
        answer_during = _answer(server, open_challenge)
        health_during = requests.get(server.url + "/healthz", timeout=5)
        redis_server.start()
        after = _verify(server, secret, token)
        answer_after = _answer(server, open_challenge)
    finally:
        if server is not None:
            server.stop()

        redis_server.stop()

    assert during["success"] is False
    assert during["error-codes"] == ["internal-error"]
    assert answer_during.status_code == 503
    assert answer_during.json()["error"] == "store-unavailable"
    assert answer_during.headers["Retry-After"] == "1"
    assert health_during.status_code == 503
    assert after["success"] is True
    assert answer_after.status_code == 200


def test_instance_starts_before_its_store(tmp_path):
    from challenge_service import testkeys

    redis_server = RedisServer(tmp_path / "redis")
    env = {
        "CHALLENGE_SERVICE_STORE_URL": redis_server.url,
        "CHALLENGE_SERVICE_SIGNING_KEYS": SHARED_KEY,
    }
    (tmp_path / "instance").mkdir()
    server = ServiceProcess(
        tmp_path / "instance", env, "--workers", "1", healthy=False
    )

    try:
        down = requests.post(
            server.url + "/api/v1/challenges",
            json={"sitekey": testkeys.ALWAYS_PASS.sitekey, "action": "book"},
            headers={"Origin": ORIGIN},
            timeout=10,
        )
        health = requests.get(server.url + "/healthz", timeout=10)

        assert down.status_code == 503
        assert down.json()["error"] == "store-unavailable"
        assert "Retry-After" in down.headers
        assert health.status_code == 503

        redis_server.start()
        issued = _issue(server, testkeys.ALWAYS_PASS.sitekey)
        health = requests.get(server.url + "/healthz", timeout=10)

        assert issued["level"] == 0
        assert health.status_code == 200
    finally:
        server.stop()
        redis_server.stop()
