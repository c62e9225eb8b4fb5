"""Verify throughput against a bare HMAC endpoint under the same server.

Starts the service (gunicorn, sync workers) on 127.0.0.1 with a fresh SQLite
store, signs a distinct pass token for every request, and loads
``/api/v1/siteverify`` with wrk; then does the same for the reference
endpoint in ``bench/baseline_app.py``. Both run with the same worker count,
connections and duration, in one run, and the script prints their ratio.

``bench/opening_minute.py`` imports the functions below to measure the same
ratio beside its own load.

Usage: python bench/verify_throughput.py [--seconds 10] [--workers 2] [--rounds 3]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
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


@dataclasses.dataclass(frozen=True)
class WrkSettings:
    """Load of one wrk run: duration in seconds, connections and threads."""

    seconds: int
    connections: int = 16
    threads: int = 2


def require_wrk() -> None:
    """Raise RuntimeError naming the package to install if wrk is missing."""
    if shutil.which("wrk") is None:
        raise RuntimeError(
            "wrk is not installed; install Debian's wrk package"
            " (apt-get install wrk) to measure the verify throughput."
        )


def start_server(
    command: list[str], port: int, env: dict[str, str]
) -> subprocess.Popen:
    """Start ``command`` and wait until it responds to HTTP on ``port``."""
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
        except (requests.ConnectionError, requests.Timeout):
            # Not listening yet, or too slow on a busy machine: ask again.
            time.sleep(0.1)

    stop_server(process)
    raise RuntimeError(f"server on port {port} did not start")


def stop_server(process: subprocess.Popen) -> None:
    """Stop a server started by :func:`start_server`, killing it if it hangs."""
    process.terminate()

    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def baseline_command(port: int, workers: int) -> list[str]:
    """Return the command that serves ``bench/baseline_app.py`` under gunicorn."""
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "-w",
        str(workers),
        "-k",
        "sync",
        "-b",
        f"127.0.0.1:{port}",
        "bench.baseline_app:app",
    ]


def service_command(port: int, workers: int, data_dir: Path) -> list[str]:
    """Return the ``challenge-service serve`` command for 127.0.0.1:``port``."""
    return [
        sys.executable,
        "-m",
        "challenge_service",
        "serve",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--data-dir",
        str(data_dir),
    ]


def run_wrk(url: str, tokens_file: Path, load: WrkSettings, offset: int) -> dict:
    """Post one token per request to ``url`` with wrk; return its counts and rate."""
    output = subprocess.run(
        [
            "wrk",
            f"-t{load.threads}",
            f"-c{load.connections}",
            f"-d{load.seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "tokens.lua"),
            url,
        ],
        env={
            **os.environ,
            "TOKENS_FILE": str(tokens_file),
            "WRK_THREADS": str(load.threads),
            "TOKEN_OFFSET": str(offset),
        },
        capture_output=True,
        text=True,
        timeout=load.seconds + 60,
        check=True,
    ).stdout
    fields = dict(item.split("=") for item in RESULT.search(output).group(1).split())
    result = {name: int(value) for name, value in fields.items()}
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    return result


def write_tokens(path: Path, secret: str, tokens: Iterable[str]) -> None:
    """Write the file that ``bench/tokens.lua`` reads: the secret, then tokens."""
    with path.open("w") as handle:
        handle.write(secret + "\n")

        for token in tokens:
            handle.write(token + "\n")


def sign_pass_tokens(
    signer: Signer, sitekey: str, count: int, lifetime: int = 3600
) -> Iterable[str]:
    """Yield ``count`` distinct pass tokens for ``sitekey`` in the service's format."""
    now = int(time.time())

    for _ in range(count):
        yield signer.sign(
            PASS_TOKEN,
            {
                "jti": secrets.token_urlsafe(12),
                "site": sitekey,
                "action": "book",
                "host": "localhost",
                "level": 0,
                "kinds": ["pow"],
                "iat": now,
                "exp": now + lifetime,
            },
        )


def write_baseline_tokens(path: Path, count: int) -> None:
    """Write ``count`` distinct tokens signed for the reference endpoint."""
    write_tokens(
        path,
        "unused",
        (baseline_sign(secrets.token_urlsafe(90).encode()) for _ in range(count)),
    )


def measure_baseline(
    workers: int, tokens_file: Path, load: WrkSettings, offset: int
) -> dict:
    """Serve the reference endpoint with ``workers`` sync workers and load it."""
    port = free_port()
    baseline = start_server(baseline_command(port, workers), port, {})

    try:
        return run_wrk(f"http://127.0.0.1:{port}/verify", tokens_file, load, offset)
    finally:
        stop_server(baseline)


def measure_service(
    workers: int,
    data_dir: Path,
    env: dict[str, str],
    tokens_file: Path,
    load: WrkSettings,
    offset: int,
) -> dict:
    """Serve the service with ``env`` and ``workers`` sync workers and load verify."""
    port = free_port()
    service = start_server(service_command(port, workers, data_dir), port, env)

    try:
        return run_wrk(
            f"http://127.0.0.1:{port}/api/v1/siteverify", tokens_file, load, offset
        )
    finally:
        stop_server(service)


def format_table(rows: list[tuple[str, int, dict]]) -> str:
    """Return the rows ``(endpoint, round index, wrk result)`` as a Markdown table."""
    lines = [
        "| round | endpoint | req/s | p50 ms | p99 ms | failed answers"
        " | socket errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]

    for name, round_index, result in rows:
        lines.append(
            f"| {round_index + 1} | {name} | {result['rps']:.0f} |"
            f" {result['p50_us'] / 1000:.2f} | {result['p99_us'] / 1000:.2f} |"
            f" {result['failures']} | {result['errors']} |"
        )

    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    options = parser.parse_args()
    require_wrk()
    load = WrkSettings(options.seconds, options.connections, options.threads)
    work = Path(tempfile.mkdtemp(prefix="bench-verify-"))

    # A site and one distinct token per request, signed as the service does.
    store = SQLiteStore(work / DATABASE_NAME)
    site, secret = create_site(store, "Bench", ["localhost"], time.time())
    service_tokens = work / "service-tokens.txt"
    write_tokens(
        service_tokens,
        secret,
        sign_pass_tokens(Signer([SIGNING_KEY]), site.sitekey, TOKEN_COUNT),
    )
    baseline_tokens = work / "baseline-tokens.txt"
    write_baseline_tokens(baseline_tokens, TOKEN_COUNT)
    env = {"CHALLENGE_SERVICE_SIGNING_KEYS": SIGNING_KEY}
    rows = []

    # Alternate the reference and the service so that load from other
    # processes on the machine falls on both alike; each round gets fresh
    # servers and unused tokens.
    for round_index in range(options.rounds):
        offset = round_index * (TOKEN_COUNT // options.rounds)
        rows.append(
            (
                "baseline",
                round_index,
                measure_baseline(options.workers, baseline_tokens, load, offset),
            )
        )
        rows.append(
            (
                "verify",
                round_index,
                measure_service(
                    options.workers, work, env, service_tokens, load, offset
                ),
            )
        )

    print(format_table(rows))
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
