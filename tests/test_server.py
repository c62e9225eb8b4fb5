"""The service under gunicorn with several worker processes."""

from __future__ import annotations

import concurrent.futures
import json
import socket
import time

import pytest
import requests

from tests.conftest import solve_challenge
from tests.servers import add_site
from tests.servers import cli
from tests.servers import ServiceProcess

ORIGIN = "http://localhost:8081"
KEY_ENV = {"CHALLENGE_SERVICE_SIGNING_KEYS": "server-test-key-0123456789abcdefghij"}

#: Concurrent verify requests sent for one token.
RACERS = 50


def _serve(data_dir, workers: int) -> ServiceProcess:
    sitekey, secret = add_site(data_dir)
    server = ServiceProcess(data_dir, KEY_ENV, "--workers", str(workers))
    server.sitekey = sitekey
    server.secret = secret
    return server


@pytest.fixture(scope="module")
def service(tmp_path_factory):
    server = _serve(tmp_path_factory.mktemp("serve"), workers=3)
    yield server
    server.stop()


def _pass_token(service) -> str:
    headers = {"Origin": ORIGIN}
    issued = requests.post(
        service.url + "/api/v1/challenges",
        json={"sitekey": service.sitekey, "action": "book"},
        headers=headers,
        timeout=5,
    ).json()
    answered = requests.post(
        f"{service.url}/api/v1/challenges/{issued['challenge_id']}/answer",
        json={
            "envelope": issued["envelope"],
            "answer": {"nonces": solve_challenge(issued["challenge"])},
        },
        headers=headers,
        timeout=5,
    )
    assert answered.status_code == 200, answered.text
    return answered.json()["pass_token"]


def _race(service, token: str, **extra) -> list[dict]:
    def verify(_):
        fields = {"secret": service.secret, "response": token, **extra}
        response = requests.post(
            service.url + "/api/v1/siteverify", data=fields, timeout=30
        )
        assert response.status_code == 200
        return response.json()

    with concurrent.futures.ThreadPoolExecutor(RACERS) as pool:
        return list(pool.map(verify, range(RACERS)))


def test_concurrent_verify_succeeds_once(service):
    results = _race(service, _pass_token(service))
    successes = [result for result in results if result["success"]]
    failures = [result for result in results if not result["success"]]

    assert len(successes) == 1
    assert len(failures) == RACERS - 1

    for failure in failures:
        assert failure["error-codes"] == [
            "timeout-or-duplicate",
            "already-seen-response",
        ]


def test_concurrent_retries_with_key_agree(service):
    results = _race(service, _pass_token(service), idempotency_key="retry-key-1")

    assert all(result["success"] for result in results)
    assert len({result["challenge_ts"] for result in results}) == 1


def test_used_token_stays_used_after_restart(tmp_path):
    data_dir = tmp_path / "data"
    first = _serve(data_dir, workers=2)
    token = _pass_token(first)
    fields = {"secret": first.secret, "response": token}
    assert requests.post(first.url + "/api/v1/siteverify", data=fields).json()[
        "success"
    ]
    first.stop()

    second = ServiceProcess(data_dir, KEY_ENV, "--workers", "2")

    try:
        result = requests.post(second.url + "/api/v1/siteverify", data=fields).json()
    finally:
        second.stop()

    assert result["error-codes"] == ["timeout-or-duplicate", "already-seen-response"]


def test_serve_without_key_refuses_to_start(tmp_path):
    result = cli(
        "serve", "--data-dir", str(tmp_path), env={"CHALLENGE_SERVICE_SIGNING_KEYS": ""}
    )

    assert result.returncode != 0
    assert "CHALLENGE_SERVICE_SIGNING_KEYS" in result.stderr


def test_serve_logs_no_raw_ip(service):
    _pass_token(service)

    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as client:
        client.sendall(b"NOT A REQUEST LINE\r\n\r\n")
        client.recv(1024)

    time.sleep(0.3)
    lines = [line for line in service.output().splitlines() if "127.0.0.1" in line]

    assert "Invalid request from ip=[address]" in service.output()
    assert lines == [
        f"Service: http://127.0.0.1:{service.port}/ (data in {service.data_dir})"
    ]


def test_crafted_path_cannot_forge_log_line(service):
    forged = "2026-12-04 17:00:00,000 ERROR challenge_service: FORGED"
    path = "/api/v1/challenges/abc%0a" + forged.replace(" ", "%20") + "/answer"
    requests.post(service.url + path, json={}, headers={"Origin": ORIGIN}, timeout=5)
    time.sleep(0.3)

    assert not any(line.startswith(forged) for line in service.output().splitlines())


@pytest.mark.parametrize(
    ("path", "content_type", "body"),
    [
        (
            "/api/v1/siteverify",
            "application/x-www-form-urlencoded",
            b"secret=x&response=y&padding=" + b"a" * 30000,
        ),
        ("/api/v1/challenges", "application/json", b'{"a": "' + b"a" * 30000 + b'"}'),
    ],
)
def test_chunked_body_over_limit_is_rejected(service, path, content_type, body):
    # A generator makes requests send the body chunked, without Content-Length.
    chunks = (body[start : start + 4096] for start in range(0, len(body), 4096))
    response = requests.post(
        service.url + path,
        data=chunks,
        headers={"Content-Type": content_type, "Origin": ORIGIN},
        timeout=10,
    )

    assert response.status_code == 413
    assert "16384 bytes" in response.json()["message"]


def test_chunked_body_under_limit_is_read(service):
    token = _pass_token(service)
    body = f"secret={service.secret}&response={token}".encode()
    response = requests.post(
        service.url + "/api/v1/siteverify",
        data=iter([body[:20], body[20:]]),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        timeout=10,
    )

    assert response.json()["success"] is True


def _raw_response(service, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes to the server and return the status, headers and body."""
    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as client:
        client.sendall(request)
        data = b""

        while chunk := client.recv(65536):
            data += chunk

    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), headers, body


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        pytest.param(
            b"NOT A REQUEST LINE\r\n\r\n", 400, "bad-request", id="request-line"
        ),
        pytest.param(
            b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
            414,
            "uri-too-long",
            id="long-url",
        ),
        pytest.param(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n",
            431,
            "headers-too-large",
            id="long-header",
        ),
        pytest.param(
            b"POST /api/v1/siteverify HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: gzip\r\n\r\n",
            400,
            "bad-request",
            id="transfer-encoding",
        ),
    ],
)
def test_unparsable_request_gets_json_error(service, request_bytes, status, code):
    got_status, headers, body = _raw_response(service, request_bytes)

    assert got_status == status
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["error"] == code
    assert json.loads(body)["status"] == status
    assert b"aaaa" not in body


def _chunked_request(path: str, content_type: str, body: bytes) -> bytes:
    """Return a POST that announces chunks but sends the body without framing."""
    return (
        f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {content_type}\r\n"
        "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ).encode() + body + b"\r\n"


@pytest.mark.parametrize(
    ("path", "content_type", "expected_status"),
    [
        # Siteverify responds to malformed bodies with 200, like its other failures.
        ("/api/v1/siteverify", "application/x-www-form-urlencoded", 200),
        ("/api/v1/challenges", "application/json", 400),
    ],
)
def test_malformed_chunks_are_rejected(service, path, content_type, expected_status):
    body = f"secret={service.secret}&response=token-{service.sitekey}".encode()
    status, headers, answer = _raw_response(
        service, _chunked_request(path, content_type, body)
    )
    result = json.loads(answer)
    time.sleep(0.3)

    assert status == expected_status
    assert headers["Content-Type"] == "application/json"

    if expected_status == 200:
        assert result["error-codes"] == ["bad-request"]
    else:
        assert result["error"] == "invalid-request"

    assert "chunked" in result["message"]
    assert service.secret not in service.output()
    assert "Traceback" not in service.output()


def test_short_body_is_rejected(service):
    body = json.dumps({"sitekey": service.sitekey, "action": "book", "lang": "fr"})
    request = (
        "POST /api/v1/challenges HTTP/1.1\r\nHost: x\r\n"
        f"Content-Type: application/json\r\nOrigin: {ORIGIN}\r\n"
        f"Content-Length: {len(body) + 20}\r\nConnection: close\r\n\r\n{body}"
    ).encode()

    with socket.create_connection(("127.0.0.1", service.port), timeout=5) as client:
        client.sendall(request)
        client.shutdown(socket.SHUT_WR)
        answer = b""

        while chunk := client.recv(65536):
            answer += chunk

    head, _, payload = answer.partition(b"\r\n\r\n")

    assert head.split()[1] == b"400"
    assert json.loads(payload)["error"] == "invalid-request"
    assert "Content-Length" in json.loads(payload)["message"]


@pytest.mark.parametrize(
    "request_bytes",
    [
        pytest.param(
            b"POST  /api/v1/siteverify?secret=SECRET-IN-QUERY HTTP/1.1\r\n\r\n",
            id="request-line",
        ),
        pytest.param(
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Token SECRET-IN-HEADER\r\n\r\n",
            id="header-line",
        ),
    ],
)
def test_rejected_request_text_not_logged(service, request_bytes):
    status, _, _ = _raw_response(service, request_bytes)
    time.sleep(0.3)

    assert status == 400
    assert "Invalid request from ip=[address]" in service.output()
    assert "SECRET-IN" not in service.output()


def test_refused_header_is_client_error(service):
    status, headers, body = _raw_response(
        service, b"GET /healthz HTTP/1.1\r\nHost: x\r\nSCRIPT_NAME: /elsewhere\r\n\r\n"
    )

    assert status == 400
    assert json.loads(body)["error"] == "bad-request"
