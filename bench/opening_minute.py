"""The opening minute of a popular slot: mixed load on SQLite and on Redis.

Starts everything on 127.0.0.1 with free ports, loads it for a bounded time
and stops it again by process id, also after Ctrl+C or an error:

- ``sqlite``: one service instance on a SQLite store in a temporary folder;
- ``redis``: a ``redis-server`` without persistence and two service
  instances on it, with the same signing key, sharing the load.

Each instance runs the production default of gunicorn sync workers
(2 x cores + 1, at most 8) unless ``--workers`` sets another count.

The load follows the opening minute of a booking portal. In the first 15 %
of the run every request is a challenge request (people and bots open the
page at once). Then people answer as their solutions arrive and their portal
verifies the pass token a few seconds later, while bots keep requesting
challenges, post wrong answers and replay tokens that were verified before.
A share of the verifies is sent twice at once, to the two instances where
there are two, as a double-submitted booking form does. No token may verify
twice. Every correct answer needs a solved proof of work, about 0.35 s of
Python each, so a pool of challenges (``--pool``) is issued and solved in
parallel processes before the timed phase; the people in the load are as many
as the pool. The pool is reused for every setup because each one gets a fresh
store with the same site key and the same signing key.

The instances trust one proxy hop (``CHALLENGE_SERVICE_PROXY_HOPS=1``), and
each person sends an address of their own in ``X-Forwarded-For``. The bots
send none, so they all come from 127.0.0.1 and the per-network limit of the
site policy rejects most of their challenge requests with 429, which the
report counts apart. ``--bot-networks`` spreads the bots over that many
addresses instead, so that their challenges are issued.

By default the load is closed: ``--connections`` clients each send their
next request as soon as the previous one returns, which measures the rate
the machine sustains. ``--rate`` sends requests open-loop at a fixed rate
instead, and latency then counts from the time a request was due, so that a
slow server cannot hide its queue. ``--find-rate`` follows the closed run of
each setup with open-loop steps at falling shares of its rate, and stops at
the first one whose p99 is under 100 ms on every endpoint.

The load generator (``bench/opening_minute_load.py``) is one asyncio event
loop with a minimal HTTP/1.1 client on an asyncio protocol, in this process.
gunicorn's sync workers close the connection after every response, so an
HTTP library's connection pool would bring nothing, while its per-request
work would take CPU from the servers on the same 2 cores; wrk, which costs
less, cannot tie a reply to its request, and that is needed to count the
tokens that verify twice. The summary states the generator's CPU time as a
share of the machine and of one core: near 100 % of one core, the
generator and not the service would set the rate.

The same run measures the verify throughput against the bare HMAC endpoint
of ``bench/baseline_app.py`` with wrk, under the same worker count, with the
functions of ``bench/verify_throughput.py``.

Usage: python bench/opening_minute.py [--seconds 60] [--pool 400] [--json PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import verify_throughput  # noqa: E402
from bench.opening_minute_load import build_pool  # noqa: E402
from bench.opening_minute_load import ENDPOINTS  # noqa: E402
from bench.opening_minute_load import HOSTNAME  # noqa: E402
from bench.opening_minute_load import LoadRun  # noqa: E402
from bench.opening_minute_load import MAX_CLIENTS  # noqa: E402
from bench.opening_minute_load import Site  # noqa: E402
from bench.opening_minute_load import SolvedChallenge  # noqa: E402
from challenge_service import DATABASE_NAME  # noqa: E402
from challenge_service.server import default_workers  # noqa: E402
from challenge_service.signing import Signer  # noqa: E402
from challenge_service.sites import hash_secret  # noqa: E402
from challenge_service.sites import SECRET_PREFIX  # noqa: E402
from challenge_service.sites import SITEKEY_PREFIX  # noqa: E402
from challenge_service.storage import open_store  # noqa: E402
from tests.redis_server import find_redis_server  # noqa: E402
from tests.redis_server import RedisServer  # noqa: E402
from tests.servers import ServiceProcess  # noqa: E402

SIGNING_KEY = verify_throughput.SIGNING_KEY

#: Goal for the p99 latency of every endpoint, in milliseconds.
P99_GOAL_MS = 100

#: Goal for the verify throughput as a share of the bare HMAC endpoint.
RATIO_GOAL = 0.7

#: Shares of the closed-loop rate that ``--find-rate`` tries, highest first.
RATE_STEPS = (0.8, 0.65, 0.5, 0.35, 0.2)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# --- Process measurements ------------------------------------------------------


def children(pid: int) -> list[int]:
    """Return the ids of the processes whose parent is ``pid``."""
    found = []

    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue

        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue

        # The command name in brackets may contain spaces; fields follow it.
        fields = stat.rpartition(")")[2].split()

        if int(fields[1]) == pid:
            found.append(int(entry.name))

    return sorted(found)


def cpu_seconds(pid: int) -> float:
    """Return the user and system CPU time of process ``pid``, or 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return 0.0

    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def peak_rss_mib(pid: int) -> float | None:
    """Return the peak resident set size (VmHWM) of ``pid`` in MiB."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None

    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

    return None


def machine_cpu_seconds() -> dict[str, float]:
    """Return the CPU time of all cores by kind, from the first line of /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return {
        "processes": (user + nice + system) / CLOCK_TICKS,
        "interrupts": (irq + softirq) / CLOCK_TICKS,
        "steal": steal / CLOCK_TICKS,
        "idle": (idle + iowait) / CLOCK_TICKS,
    }


def machine_description() -> dict:
    model = "unknown"

    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.partition(":")[2].strip()
            break

    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "python": sys.version.split()[0],
        "redis_server": subprocess.run(
            [find_redis_server(), "--version"], capture_output=True, text=True
        ).stdout.strip(),
    }


# --- Setups --------------------------------------------------------------------


class Setup:
    """Service instances, and their Redis server where there is one, on 127.0.0.1."""

    def __init__(self, name: str, workers: int, site: Site, work: Path) -> None:
        self.name = name
        self.workers = workers
        self.site = site
        self.work = Path(tempfile.mkdtemp(prefix=f"{name}-", dir=work))
        self.redis: RedisServer | None = None
        self.instances: list[ServiceProcess] = []
        self.env = {
            "CHALLENGE_SERVICE_SIGNING_KEYS": SIGNING_KEY,
            # Pool challenges are issued before they are solved and reused by
            # every setup, so they must stay answerable for the whole run.
            "CHALLENGE_SERVICE_CHALLENGE_TTL": "3600",
            # The client address comes from X-Forwarded-For, as behind one
            # reverse proxy; see person_headers in opening_minute_load.py.
            "CHALLENGE_SERVICE_PROXY_HOPS": "1",
        }

    def prepare(self) -> None:
        """Start Redis where the setup has it, and add the site to a fresh store."""
        if self.name == "redis":
            self.redis = RedisServer(self.work / "redis")
            self.redis.start()
            self.env["CHALLENGE_SERVICE_STORE_URL"] = self.redis.url

        store = open_store(
            self.env.get("CHALLENGE_SERVICE_STORE_URL", ""), self.work / DATABASE_NAME
        )
        store.add_site(
            "Opening minute",
            self.site.sitekey,
            hash_secret(self.site.secret),
            (HOSTNAME,),
            time.time(),
        )

    def start(self) -> None:
        """Prepare the store and start the setup's service instances."""
        self.prepare()

        for index in range(2 if self.redis else 1):
            # SQLite instances must use the folder of the store's file.
            data_dir = self.work

            if self.redis is not None:
                data_dir = self.work / f"instance-{index}"
                data_dir.mkdir()

            self.instances.append(
                ServiceProcess(data_dir, self.env, "--workers", str(self.workers))
            )

    @property
    def ports(self) -> list[int]:
        return [instance.port for instance in self.instances]

    def worker_ids(self) -> list[int]:
        return [
            pid for instance in self.instances for pid in children(instance.process.pid)
        ]

    def server_ids(self) -> dict[str, list[int]]:
        """Return the process ids of the workers, the masters and Redis."""
        return {
            "workers": self.worker_ids(),
            "masters": [instance.process.pid for instance in self.instances],
            "redis": [self.redis.process.pid] if self.redis else [],
        }

    def error_lines(self, limit: int = 20) -> list[str]:
        """Return the first lines of the instances' logs at level ERROR or above."""
        lines = []

        for instance in self.instances:
            for line in instance.output().splitlines():
                if "ERROR" in line or "CRITICAL" in line or "Traceback" in line:
                    lines.append(f"port {instance.port}: {line}")

        return lines[:limit]

    def stop(self) -> None:
        for instance in self.instances:
            instance.stop()

        if self.redis is not None:
            self.redis.stop()


@contextmanager
def running(setup: Setup) -> Iterator[Setup]:
    try:
        setup.start()
        yield setup
    finally:
        setup.stop()


# --- One measured run ----------------------------------------------------------


def percentile(values: list[float], share: float) -> float | None:
    """Return the nearest-rank percentile of ``values``, or None if empty."""
    if not values:
        return None

    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def measure(
    setup: Setup,
    pool: list[SolvedChallenge],
    seconds: float,
    connections: int,
    rate: float | None,
    seed: int,
    bot_networks: int = 1,
) -> dict:
    """Load a running setup once and return the figures of the run."""
    run = LoadRun(setup.ports, setup.site, pool, seconds, seed, bot_networks)
    ids = setup.server_ids()
    cpu_before = {
        group: sum(cpu_seconds(pid) for pid in pids) for group, pids in ids.items()
    }
    machine_before = machine_cpu_seconds()
    generator_before = time.process_time()
    started = time.monotonic()

    if rate is None:
        asyncio.run(run.closed(connections))
    else:
        asyncio.run(run.open(rate))

    wall = time.monotonic() - started
    generator_cpu = time.process_time() - generator_before
    machine_after = machine_cpu_seconds()
    machine = {
        kind: machine_after[kind] - machine_before[kind] for kind in machine_after
    }
    cpu = {
        group: sum(cpu_seconds(pid) for pid in pids) - cpu_before[group]
        for group, pids in ids.items()
    }
    workers_after = setup.worker_ids()
    recorder = run.recorder
    cores = os.cpu_count()
    endpoints = {}

    for name in ENDPOINTS:
        latencies = recorder.latencies[name]
        statuses = recorder.statuses[name]
        endpoints[name] = {
            "requests": len(latencies),
            "rps": len(latencies) / wall,
            "p50_ms": _ms(percentile(latencies, 0.5)),
            "p99_ms": _ms(percentile(latencies, 0.99)),
            "statuses": dict(statuses),
            "unexpected": dict(recorder.unexpected[name]),
            "5xx": sum(n for status, n in statuses.items() if status.startswith("5")),
            "429": statuses.get("429", 0),
        }

    all_latencies = [value for name in ENDPOINTS for value in recorder.latencies[name]]
    total_requests = len(all_latencies)
    used_cpu = sum(cpu.values()) + generator_cpu
    return {
        "setup": setup.name,
        "instances": len(setup.instances),
        "workers_per_instance": setup.workers,
        "mode": "closed" if rate is None else "open",
        "connections": connections if rate is None else None,
        "target_rate": rate,
        "seconds": wall,
        "pool": len(pool),
        "bot_networks": bot_networks,
        "endpoints": endpoints,
        "total": {
            "requests": total_requests,
            "rps": total_requests / wall,
            "p50_ms": _ms(percentile(all_latencies, 0.5)),
            "p99_ms": _ms(percentile(all_latencies, 0.99)),
            "5xx": sum(endpoints[name]["5xx"] for name in ENDPOINTS),
            "429": sum(endpoints[name]["429"] for name in ENDPOINTS),
            "unexpected": sum(
                sum(endpoints[name]["unexpected"].values()) for name in ENDPOINTS
            ),
        },
        "outcomes": {kind: dict(counts) for kind, counts in recorder.outcomes.items()},
        "tokens_issued": run.scenario.tokens_issued,
        "tokens_verified": len(recorder.successes),
        "double_successes": sum(1 for n in recorder.successes.values() if n > 1),
        "retry_after": dict(recorder.retry_after),
        "unexpected_samples": recorder.samples,
        "dropped_by_generator": recorder.dropped,
        "max_send_lateness_ms": _ms(recorder.max_lateness) if rate else None,
        "cpu": {
            "generator_s": generator_cpu,
            "generator_share_of_machine": generator_cpu / (wall * cores),
            "generator_share_of_one_core": generator_cpu / wall,
            "workers_s": cpu["workers"],
            # CPU time per request varies less with other load on the
            # machine than the rate does, so sizing can start from it.
            "workers_ms_per_request": _per_request(cpu["workers"], total_requests),
            "redis_ms_per_request": _per_request(cpu["redis"], total_requests),
            "masters_s": cpu["masters"],
            "redis_s": cpu["redis"],
            # Loopback traffic is handled partly in softirq context, which
            # /proc/stat counts apart from every process.
            "interrupts_share": machine["interrupts"] / (wall * cores),
            "steal_share": machine["steal"] / (wall * cores),
            "idle_share": machine["idle"] / (wall * cores),
            "other_processes_share": max(0.0, machine["processes"] - used_cpu)
            / (wall * cores),
        },
        "worker_peak_rss_mib": [peak_rss_mib(pid) for pid in workers_after],
        "workers_replaced": len(set(ids["workers"]) - set(workers_after)),
        "server_errors": setup.error_lines(),
        "redis_peak_rss_mib": (peak_rss_mib(ids["redis"][0]) if ids["redis"] else None),
    }


def _per_request(seconds: float, requests: int) -> float | None:
    return seconds * 1000 / requests if requests else None


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def meets_goal(result: dict) -> bool:
    """Return whether a run had p99 under the goal on every endpoint and no errors."""
    endpoints = result["endpoints"].values()
    return (
        all(e["p99_ms"] is None or e["p99_ms"] < P99_GOAL_MS for e in endpoints)
        and result["total"]["5xx"] == 0
        and result["double_successes"] == 0
        and result["dropped_by_generator"] == 0
    )


# --- Verify throughput against the bare endpoint -------------------------------


def compare_with_baseline(
    setups: list[str], site: Site, workers: int, seconds: int, rounds: int, work: Path
) -> dict:
    """Measure verify throughput against ``bench/baseline_app.py`` with wrk.

    Each round runs the reference, then the service on each store, with fresh
    servers. The ratio of a round divides by the reference of the same round.
    """
    verify_throughput.require_wrk()
    load = verify_throughput.WrkSettings(seconds)
    count = verify_throughput.TOKEN_COUNT
    tokens = work / "service-tokens.txt"
    verify_throughput.write_tokens(
        tokens,
        site.secret,
        verify_throughput.sign_pass_tokens(Signer([SIGNING_KEY]), site.sitekey, count),
    )
    baseline_tokens = work / "baseline-tokens.txt"
    verify_throughput.write_baseline_tokens(baseline_tokens, count)
    rows = []
    ratios: dict[str, list[float]] = {name: [] for name in setups}

    for round_index in range(rounds):
        offset = round_index * (count // rounds)
        baseline = verify_throughput.measure_baseline(
            workers, baseline_tokens, load, offset
        )
        rows.append(("baseline", round_index, baseline))

        for name in setups:
            setup = Setup(name, workers, site, work)

            try:
                setup.prepare()
                result = verify_throughput.measure_service(
                    workers, setup.work, setup.env, tokens, load, offset
                )
            finally:
                setup.stop()

            rows.append((f"verify ({name})", round_index, result))
            ratios[name].append(result["rps"] / baseline["rps"])

    return {
        "workers": workers,
        "seconds": seconds,
        "connections": load.connections,
        "rounds": [
            {
                "endpoint": name,
                "round": round_index + 1,
                "rps": result["rps"],
                "p50_ms": result["p50_us"] / 1000,
                "p99_ms": result["p99_us"] / 1000,
                "failed": result["failures"],
                "socket_errors": result["errors"],
            }
            for name, round_index, result in rows
        ],
        "table": verify_throughput.format_table(rows),
        "ratios": ratios,
        "median_ratio": {
            name: statistics.median(values) for name, values in ratios.items()
        },
    }


# --- Report --------------------------------------------------------------------


def _format(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def format_run(result: dict) -> str:
    """Return one run's figures as a heading line and a Markdown table."""
    workers = result["instances"] * result["workers_per_instance"]
    load = (
        f"closed loop, {result['connections']} connections"
        if result["mode"] == "closed"
        else f"open loop at {result['target_rate']:.0f} req/s"
    )
    lines = [
        f"{result['setup']}: {result['instances']} instance(s) x"
        f" {result['workers_per_instance']} workers, {load},"
        f" {result['seconds']:.1f} s, pool {result['pool']},"
        f" bots from {result['bot_networks']} network(s)",
        "",
        "| endpoint | requests | req/s | req/s per worker | p50 ms | p99 ms"
        " | unexpected by status | 5xx | 429 |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    rows = [*result["endpoints"].items(), ("total", result["total"])]

    for name, figures in rows:
        unexpected = figures["unexpected"]

        if isinstance(unexpected, dict):
            unexpected = (
                ", ".join(f"{status}: {n}" for status, n in sorted(unexpected.items()))
                or "0"
            )

        lines.append(
            f"| {name} | {figures['requests']} | {figures['rps']:.0f} |"
            f" {figures['rps'] / workers:.0f} | {_format(figures['p50_ms'])} |"
            f" {_format(figures['p99_ms'])} | {unexpected} | {figures['5xx']} |"
            f" {figures['429']} |"
        )

    cpu = result["cpu"]
    rss = [value for value in result["worker_peak_rss_mib"] if value is not None]
    lines += [
        "",
        f"double successes: {result['double_successes']}; pass tokens issued"
        f" {result['tokens_issued']}, verified {result['tokens_verified']}",
        f"CPU: generator {cpu['generator_share_of_machine']:.0%} of the machine"
        f" ({cpu['generator_share_of_one_core']:.0%} of one core), service workers"
        f" {cpu['workers_s'] / (result['seconds'] * os.cpu_count()):.0%},"
        f" interrupts {cpu['interrupts_share']:.0%}, steal {cpu['steal_share']:.0%},"
        f" idle {cpu['idle_share']:.0%}, other processes"
        f" {cpu['other_processes_share']:.0%}",
        f"worker CPU per request: {_format(cpu['workers_ms_per_request'], 2)} ms"
        + (
            f", redis-server {cpu['redis_ms_per_request']:.3f} ms"
            if result["redis_peak_rss_mib"]
            else ""
        ),
        f"worker peak RSS (VmHWM): {min(rss, default=0):.1f} to"
        f" {max(rss, default=0):.1f} MiB over {len(rss)} workers"
        + (
            f"; redis-server {result['redis_peak_rss_mib']:.1f} MiB"
            if result["redis_peak_rss_mib"]
            else ""
        ),
    ]

    if result["workers_replaced"]:
        lines.append(f"workers replaced during the run: {result['workers_replaced']}")

    if result["dropped_by_generator"]:
        lines.append(
            f"requests dropped by the generator: {result['dropped_by_generator']}"
        )

    if result["max_send_lateness_ms"] is not None:
        lines.append(
            f"latest send after its due time: {result['max_send_lateness_ms']:.1f} ms"
        )

    if result["retry_after"]:
        lines.append(f"Retry-After values of 429 responses: {result['retry_after']}")

    for sample in result["unexpected_samples"][:5]:
        lines.append(f"unexpected: {sample.strip()}")

    for line in result["server_errors"][:5]:
        lines.append(f"server log: {line}")

    return "\n".join(lines)


def format_summary(report: dict) -> str:
    """Return the whole report as text: every run, the ratio and the goals."""
    parts = []

    for run in report["runs"]:
        parts.append(format_run(run))

    baseline = report.get("baseline")

    if baseline:
        medians = ", ".join(
            f"{name} {ratio:.2f}" for name, ratio in baseline["median_ratio"].items()
        )
        parts.append(
            f"verify throughput against the bare HMAC endpoint ({baseline['workers']}"
            f" workers, {baseline['connections']} connections, {baseline['seconds']} s"
            f" per run):\n\n{baseline['table']}\n\nmedian ratio: {medians}"
            f" (goal {RATIO_GOAL:.2f})"
        )

    sustained = report.get("sustained_rate")

    if sustained:
        parts.append(
            "highest open-loop rate with p99 under"
            f" {P99_GOAL_MS} ms on every endpoint: "
            + ", ".join(
                f"{name} {rate:.0f} req/s" if rate else f"{name} none of the steps"
                for name, rate in sustained.items()
            )
        )

    return "\n\n".join(parts)


# --- Command line ----------------------------------------------------------------


def _stop_on_sigterm(signum, frame) -> None:
    # Turn SIGTERM into an exception so that the finally blocks stop servers.
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--seconds", type=float, default=60, help="Length of each timed run [60]."
    )
    parser.add_argument(
        "--pool",
        type=int,
        default=400,
        help="Challenges solved before the timed runs: the people in the load [400].",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=default_workers(),
        help="gunicorn workers per instance [the service's default,"
        f" {default_workers()} here].",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=32,
        help="Clients of the closed-loop load [32].",
    )
    parser.add_argument(
        "--rate",
        type=float,
        help="Send this many requests per second, open-loop, instead of the"
        " closed-loop load.",
    )
    parser.add_argument(
        "--bot-networks",
        type=int,
        default=1,
        help="Networks the bots' requests come from; 1 sends them all from"
        " 127.0.0.1, where the per-network limit rejects most of them [1].",
    )
    parser.add_argument(
        "--find-rate",
        action="store_true",
        help="After each closed-loop run, try open-loop rates at falling shares"
        f" of its rate until p99 is under {P99_GOAL_MS} ms.",
    )
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=20,
        help="Length of each --find-rate step [20].",
    )
    parser.add_argument(
        "--setups",
        default="sqlite,redis",
        help="Comma-separated setups to run: sqlite, redis [sqlite,redis].",
    )
    parser.add_argument(
        "--baseline-seconds",
        type=int,
        default=10,
        help="Length of each wrk run against verify and the bare HMAC endpoint;"
        " 0 skips that comparison [10].",
    )
    parser.add_argument(
        "--baseline-rounds",
        type=int,
        default=2,
        help="Rounds of the verify/baseline comparison [2].",
    )
    parser.add_argument(
        "--seed", type=int, default=1, help="Seed of the load's choices [1]."
    )
    parser.add_argument(
        "--json", type=Path, help="Write the report as JSON to this file."
    )
    options = parser.parse_args(argv)
    setups = [name.strip() for name in options.setups.split(",") if name.strip()]

    for name in setups:
        if name not in ("sqlite", "redis"):
            parser.error(f"--setups: unknown setup {name!r}; use sqlite or redis.")

    if options.pool < 1 or options.seconds <= 0 or options.workers < 1:
        parser.error("--pool, --seconds and --workers must be positive.")

    if not 1 <= options.bot_networks <= MAX_CLIENTS - options.pool:
        parser.error(
            f"--bot-networks must be from 1 to {MAX_CLIENTS} minus --pool,"
            " the addresses of 198.18.0.0/15 left after the people."
        )

    if options.baseline_seconds:
        verify_throughput.require_wrk()

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    site = Site(
        SITEKEY_PREFIX + secrets.token_urlsafe(16),
        SECRET_PREFIX + secrets.token_urlsafe(32),
    )
    report: dict[str, Any] = {
        "machine": machine_description(),
        "options": {
            name: str(value) if isinstance(value, Path) else value
            for name, value in vars(options).items()
        },
        "runs": [],
    }
    pool: list[SolvedChallenge] | None = None

    with tempfile.TemporaryDirectory(prefix="opening-minute-") as folder:
        work = Path(folder)

        for name in setups:
            with running(Setup(name, options.workers, site, work)) as setup:
                if pool is None:
                    pool = build_pool(setup.ports[0], site, options.pool)

                print(f"loading {name} for {options.seconds:g} s", file=sys.stderr)
                closed = measure(
                    setup,
                    pool,
                    options.seconds,
                    options.connections,
                    options.rate,
                    options.seed,
                    options.bot_networks,
                )

            report["runs"].append(closed)
            _save(report, options.json)

            if options.find_rate and options.rate is None:
                report.setdefault("sustained_rate", {})[name] = None

                if meets_goal(closed):
                    # The saturated rate already keeps p99 under the goal.
                    report["sustained_rate"][name] = closed["total"]["rps"]
                    continue

                for share in RATE_STEPS:
                    rate = share * closed["total"]["rps"]
                    print(
                        f"loading {name} open-loop at {rate:.0f} req/s", file=sys.stderr
                    )

                    with running(Setup(name, options.workers, site, work)) as setup:
                        step = measure(
                            setup,
                            pool,
                            options.step_seconds,
                            options.connections,
                            rate,
                            options.seed,
                            options.bot_networks,
                        )

                    report["runs"].append(step)
                    _save(report, options.json)

                    if meets_goal(step):
                        report["sustained_rate"][name] = rate
                        break

        if options.baseline_seconds:
            print("comparing verify with the bare HMAC endpoint", file=sys.stderr)

            try:
                report["baseline"] = compare_with_baseline(
                    setups,
                    site,
                    options.workers,
                    options.baseline_seconds,
                    options.baseline_rounds,
                    work,
                )
            except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                # Keep the load figures: report the failed comparison instead.
                report["baseline_error"] = f"{error.__class__.__name__}: {error}"
                print(f"verify/baseline comparison failed: {error}", file=sys.stderr)

    print(format_summary(report))
    _save(report, options.json)
    return 1 if "baseline_error" in report else 0


def _save(report: dict, path: Path | None) -> None:
    # Written after every run, so that a later failure keeps the earlier figures.
    if path is not None:
        path.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    sys.exit(main())
