"""Verify throughput against a bare HMAC endpoint under the same server.

Starts the service (gunicorn, sync workers) on 127.0.0.1 with a fresh SQLite
store, signs a distinct pass token for every request, and loads
``/api/v1/siteverify`` with wrk; then does the same for the reference
endpoint in ``bench/baseline_app.py``. Both run with the same worker count,
connections and duration, in one run, and the script prints their ratio.

Usage: python bench/verify_throughput.py [--seconds 10] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import statistics
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
        command,
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
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


def _wrk(url: str, tokens_file: Path, options, offset: int) -> dict:
    output = subprocess.run(
        [
            "wrk",
            f"-t{options.threads}",
            f"-c{options.connections}",
            f"-d{options.seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "tokens.lua"),
            url,
        ],
        env={
            **os.environ,
            "TOKENS_FILE": str(tokens_file),
            "WRK_THREADS": str(options.threads),
            "TOKEN_OFFSET": str(offset),
        },
        capture_output=True,
        text=True,
        timeout=options.seconds + 60,
        check=True,
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
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-verify-"))

    # A site and one distinct token per request, signed as the service does.
    store = SQLiteStore(work / DATABASE_NAME)
    site, secret = create_site(store, "Bench", ["localhost"], time.time())
    signer = Signer([SIGNING_KEY])
    now = int(time.time())
    service_tokens = work / "service-tokens.txt"
    _write_tokens(
        service_tokens,
        secret,
        (
            signer.sign(
                PASS_TOKEN,
                {
                    "jti": secrets.token_urlsafe(12),
                    "site": site.sitekey,
                    "action": "book",
                    "host": "localhost",
                    "level": 0,
                    "kinds": ["pow"],
                    "iat": now,
                    "exp": now + 3600,
                },
            )
            for _ in range(TOKEN_COUNT)
        ),
    )
    baseline_tokens = work / "baseline-tokens.txt"
    _write_tokens(
        baseline_tokens,
        "unused",
        (baseline_sign(secrets.token_urlsafe(90).encode()) for _ in range(TOKEN_COUNT)),
    )
    rows = []

    # Alternate the reference and the service so that load from other
    # processes on the machine falls on both alike; each round gets fresh
    # servers and unused tokens.
    for round_index in range(options.rounds):
        offset = round_index * (TOKEN_COUNT // options.rounds)
        port = free_port()
        baseline = _start(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                str(options.workers),
                "-k",
                "sync",
                "-b",
                f"127.0.0.1:{port}",
                "bench.baseline_app:app",
            ],
            port,
            {},
        )
        try:
            rows.append(
                (
                    "baseline",
                    round_index,
                    _wrk(
                        f"http://127.0.0.1:{port}/verify",
                        baseline_tokens,
                        options,
                        offset,
                    ),
                )
            )
        finally:
            _stop(baseline)

        port = free_port()
        service = _start(
            [
                sys.executable,
                "-m",
                "challenge_service",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(options.workers),
                "--data-dir",
                str(work),
            ],
            port,
            {"CHALLENGE_SERVICE_SIGNING_KEYS": SIGNING_KEY},
        )
        try:
            rows.append(
                (
                    "verify",
                    round_index,
                    _wrk(
                        f"http://127.0.0.1:{port}/api/v1/siteverify",
                        service_tokens,
                        options,
                        offset,
                    ),
                )
            )
        finally:
            _stop(service)

    print(
        "| round | endpoint | req/s | p50 ms | p99 ms | failed answers | socket errors |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")

    for name, round_index, result in rows:
        print(
            f"| {round_index + 1} | {name} | {result['rps']:.0f} |"
            f" {result['p50_us'] / 1000:.2f} | {result['p99_us'] / 1000:.2f} |"
            f" {result['failures']} | {result['errors']} |"
        )

    ratios = [
        verify["rps"] / baseline["rps"]
        for (_, _, baseline), (_, _, verify) in zip(rows[::2], rows[1::2])
    ]
    print(
        f"\nverify / baseline throughput per round: "
        f"{', '.join(f'{ratio:.2f}' for ratio in ratios)};"
        f" median {statistics.median(ratios):.2f}"
        f" (gunicorn sync, {options.workers} workers, {options.connections}"
        f" connections, {options.seconds} s per run)"
    )


if __name__ == "__main__":
    main()
