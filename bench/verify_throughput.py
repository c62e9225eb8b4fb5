"""Verify throughput against a bare HMAC endpoint under the same server.

Starts the service (gunicorn, sync workers) on 127.0.0.1 with a fresh SQLite
store, signs a distinct pass token for every request, and loads
``/api/v1/siteverify`` with wrk; then does the same for the reference
endpoint in ``bench/baseline_app.py``. Both run with the same worker count,
connections and duration, in one run, and the script prints their ratio.

Usage: python bench/verify_throughput.py [--seconds 10] [--workers 2]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.baseline_app import sign as baseline_sign  # noqa: E402
from challenge_service import DATABASE_NAME  # noqa: E402
from challenge_service.signing import PASS_TOKEN  # noqa: E402
from challenge_service.signing import Signer  # noqa: E402
from challenge_service.sites import create_site  # noqa: E402
from challenge_service.storage import SQLiteStore  # noqa: E402
from tests.servers import free_port  # noqa: E402

SIGNING_KEY = "bench-signing-key-0123456789abcdefghijk"
RESULT = re.compile(r"RESULT (.*)")

#: Tokens signed in advance; more than the fastest run can use.
TOKEN_COUNT = 200_000


def _start(command: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    process = subprocess.Popen(
        command, env={**os.environ, **env}, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL, cwd=ROOT,
    )
    deadline = time.monotonic() + 20

    while time.monotonic() < deadline:
        try:
            requests.get(f"http://127.0.0.1:{port}/", timeout=1)
            return process
        except requests.ConnectionError:
            time.sleep(0.1)

    process.terminate()
    raise RuntimeError(f"server on port {port} did not start")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait(timeout=15)


def _wrk(url: str, tokens_file: Path, seconds: int, threads: int, connections: int) -> dict:
    output = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency",
         "-s", str(ROOT / "bench" / "tokens.lua"), url],
        env={**os.environ, "TOKENS_FILE": str(tokens_file), "WRK_THREADS": str(threads)},
        capture_output=True, text=True, timeout=seconds + 60, check=True,
    ).stdout
    fields = dict(item.split("=") for item in RESULT.search(output).group(1).split())
    result = {name: int(value) for name, value in fields.items()}
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def _write_tokens(path: Path, secret: str, tokens) -> None:
    with path.open("w") as handle:
        handle.write(secret + "\n")

        for token in tokens:
            handle.write(token + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-verify-"))

    # A site and one distinct token per request, signed as the service does.
    store = SQLiteStore(work / DATABASE_NAME)
    site, secret = create_site(store, "Bench", ["localhost"], time.time())
    signer = Signer([SIGNING_KEY])
    now = int(time.time())
    service_tokens = work / "service-tokens.txt"
    _write_tokens(service_tokens, secret, (
        signer.sign(PASS_TOKEN, {
            "jti": secrets.token_urlsafe(12), "site": site.id, "action": "book",
            "host": "localhost", "level": 0, "kinds": ["pow"], "iat": now,
            "exp": now + 3600,
        })
        for _ in range(TOKEN_COUNT)
    ))
    baseline_tokens = work / "baseline-tokens.txt"
    _write_tokens(baseline_tokens, "unused", (
        baseline_sign(secrets.token_urlsafe(90).encode()) for _ in range(TOKEN_COUNT)
    ))
    results = {}

    # The reference endpoint, then the service, under the same gunicorn set-up.
    port = free_port()
    baseline = _start(
        [sys.executable, "-m", "gunicorn", "-w", str(options.workers), "-k", "sync",
         "-b", f"127.0.0.1:{port}", "bench.baseline_app:app"], port, {},
    )
    try:
        results["baseline"] = _wrk(f"http://127.0.0.1:{port}/verify", baseline_tokens,
                                   options.seconds, options.threads, options.connections)
    finally:
        _stop(baseline)

    port = free_port()
    service = _start(
        [sys.executable, "-m", "challenge_service", "serve", "--port", str(port),
         "--workers", str(options.workers), "--data-dir", str(work)],
        port, {"CHALLENGE_SERVICE_SIGNING_KEYS": SIGNING_KEY},
    )
    try:
        results["verify"] = _wrk(f"http://127.0.0.1:{port}/api/v1/siteverify",
                                 service_tokens, options.seconds, options.threads,
                                 options.connections)
    finally:
        _stop(service)

    print("| endpoint | req/s | p50 ms | p99 ms | failed answers | socket errors |")
    print("| --- | --- | --- | --- | --- | --- |")

    for name, result in results.items():
        print(f"| {name} | {result['rps']:.0f} | {result['p50_us'] / 1000:.2f} |"
              f" {result['p99_us'] / 1000:.2f} | {result['failures']} | {result['errors']} |")

    ratio = results["verify"]["rps"] / results["baseline"]["rps"]
    print(f"\nverify / baseline throughput: {ratio:.2f}"
          f" (gunicorn sync, {options.workers} workers, {options.connections}"
          f" connections, {options.seconds} s each)")


if __name__ == "__main__":
    main()
