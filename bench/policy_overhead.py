"""Cost of the risk policy: challenge requests per second, adaptive vs fixed.

Starts the service twice in one run (gunicorn sync workers, fresh SQLite
store each), once with the risk policy and its signals on and once with
``CHALLENGE_SERVICE_ADAPTIVE=false``, where every challenge is at the site's
floor and nothing is counted. wrk posts challenge requests that rotate
through ``--addresses`` client addresses (through X-Forwarded-For, trusted
with ``PROXY_HOPS=1``), so the adaptive run keeps one counter per network.
The site's network limit and burst floor are off, so every request is a
full challenge (201) in both runs.

The policy's cost is the work of deciding, so both runs must issue the
same challenges. With the default of 100,000 addresses, each network sends
a request or two per run and the adaptive run stays at level 0 like the
fixed one. With 1000, each network sends dozens in a few seconds, the
policy raises their level, and the adaptive run also pays for harder
challenges. The share of each level is printed for every run, with the
workers' CPU time per request, which varies less than throughput when other
work shares the machine.

Usage: python bench/policy_overhead.py [--seconds 10] [--workers 2] [--rounds 3]
       [--addresses 100000]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.opening_minute import children  # noqa: E402
from bench.opening_minute import cpu_seconds  # noqa: E402
from bench.verify_throughput import require_wrk  # noqa: E402
from bench.verify_throughput import service_command  # noqa: E402
from bench.verify_throughput import SIGNING_KEY  # noqa: E402
from bench.verify_throughput import start_server  # noqa: E402
from bench.verify_throughput import stop_server  # noqa: E402
from bench.verify_throughput import WrkSettings  # noqa: E402
from tests.servers import free_port  # noqa: E402

RESULT = re.compile(r"RESULT (.*)")

#: The share of throughput the policy may cost.
GOAL = 0.15


def _cli(*args: str, env: dict[str, str]) -> str:
    return subprocess.run(
        [sys.executable, "-m", "challenge_service", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout


def _workers(server_id: int, expected: int) -> list[int]:
    """Return the worker process ids of a server, once all ``expected`` run."""
    deadline = time.monotonic() + 20

    while time.monotonic() < deadline:
        found = children(server_id)

        if len(found) >= expected:
            return found

        time.sleep(0.1)

    raise RuntimeError(f"the server started {len(found)} of {expected} workers")


def measure(adaptive: bool, load: WrkSettings, workers: int, addresses: int) -> dict:
    """Serve a fresh store and load its challenge endpoint; return wrk's figures."""
    with tempfile.TemporaryDirectory() as folder:
        env = {
            "CHALLENGE_SERVICE_SIGNING_KEYS": SIGNING_KEY,
            "CHALLENGE_SERVICE_DATA_DIR": folder,
            "CHALLENGE_SERVICE_ADAPTIVE": "true" if adaptive else "false",
            "CHALLENGE_SERVICE_PROXY_HOPS": "1",
        }
        added = _cli(
            "sites", "add", "--name", "Bench", "--hostname", "localhost", env=env
        )
        sitekey = added.split()[2]
        _cli(
            "sites",
            "policy",
            sitekey,
            "--set",
            "network_limit=0",
            "--set",
            "burst_per_minute=0",
            env=env,
        )
        port = free_port()
        server = start_server(service_command(port, workers, Path(folder)), port, env)
        # CPU per request is steadier than throughput on a shared machine.
        # The server responds once its first worker runs, so wait for all.
        worker_ids = _workers(server.pid, workers)
        cpu_before = sum(cpu_seconds(pid) for pid in worker_ids)

        try:
            output = subprocess.run(
                [
                    "wrk",
                    f"-t{load.threads}",
                    f"-c{load.connections}",
                    f"-d{load.seconds}s",
                    "-s",
                    str(ROOT / "bench" / "challenges.lua"),
                    f"http://127.0.0.1:{port}/api/v1/challenges",
                ],
                env={**os.environ, "SITEKEY": sitekey, "ADDRESSES": str(addresses)},
                capture_output=True,
                text=True,
                timeout=load.seconds + 60,
                check=True,
            ).stdout
            cpu = sum(cpu_seconds(pid) for pid in worker_ids) - cpu_before
        finally:
            stop_server(server)

    fields = dict(item.split("=") for item in RESULT.search(output).group(1).split())
    result = {name: int(value) for name, value in fields.items()}
    result["rps"] = result["requests"] / (result["duration_us"] / 1e6)
    result["cpu_us"] = 1e6 * cpu / result["requests"]
    return result


def _levels(result: dict) -> str:
    """Return the share of challenges at each level, 0 to 4, in percent."""
    counts = [result[f"level{level}"] for level in range(5)]
    total = sum(counts) or 1
    return " / ".join(f"{100 * count / total:.0f}" for count in counts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--addresses",
        type=int,
        default=100_000,
        help="client addresses that the requests rotate through (default 100000)",
    )
    arguments = parser.parse_args()
    require_wrk()
    load = WrkSettings(arguments.seconds)
    ratios = []
    cpus = []

    for round_number in range(1, arguments.rounds + 1):
        fixed = measure(False, load, arguments.workers, arguments.addresses)
        adaptive = measure(True, load, arguments.workers, arguments.addresses)
        ratio = adaptive["rps"] / fixed["rps"]
        ratios.append(ratio)
        cpus.append({"fixed": fixed["cpu_us"], "adaptive": adaptive["cpu_us"]})

        for name, result in (("fixed", fixed), ("adaptive", adaptive)):
            print(
                f"round {round_number} {name:8} {result['rps']:8.0f} req/s"
                f"  p50 {result['p50_us'] / 1000:6.2f} ms"
                f"  p99 {result['p99_us'] / 1000:6.2f} ms"
                f"  non-201 {result['failures']}"
                f"  worker CPU {result['cpu_us']:4.0f} µs/request"
                f"  levels 0-4 {_levels(result)}"
            )

        print(f"round {round_number} ratio adaptive/fixed {ratio:.2f}")

    median = statistics.median(ratios)
    verdict = "meets" if median >= 1 - GOAL else "misses"
    print(f"median ratio {median:.2f}: {verdict} the goal of at least {1 - GOAL:.2f}")
    print(
        "median worker CPU per request: fixed"
        f" {statistics.median(cpu['fixed'] for cpu in cpus):.0f} µs, adaptive"
        f" {statistics.median(cpu['adaptive'] for cpu in cpus):.0f} µs"
    )


if __name__ == "__main__":
    main()
