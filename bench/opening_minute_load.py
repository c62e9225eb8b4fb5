"""The load of ``bench/opening_minute.py``: HTTP client, scenario and records.

The client is a minimal HTTP/1.1 client on an asyncio protocol. gunicorn's
sync workers close the connection after every response, so an HTTP
library's connection pool would bring nothing, while its per-request work
would take CPU from the servers on the same machine.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import heapq
import json
import multiprocessing
import os
import random
import signal
import sys
import time
from typing import Any
from urllib.parse import urlencode

from challenge_service.challenges.proof_of_work import solve

HOSTNAME = "localhost"
ORIGIN = f"http://{HOSTNAME}:8081"
CHALLENGES_PATH = "/api/v1/challenges"
VERIFY_PATH = "/api/v1/siteverify"
ENDPOINTS = ("challenge", "answer", "verify")

#: Share of the run, from its start, in which every request is a challenge request.
BURST_SHARE = 0.15

#: People arrive in the first 60 % of the run, so that their flows end in it.
ARRIVAL_SHARE = 0.6

#: Share of the people who arrive during the burst; the rest arrive after it.
PEOPLE_IN_BURST = 0.6

#: Seconds between a person's challenge request and their answer, and
#: between the pass token and the portal's verify, for a 60 s run; shorter
#: runs scale them down.
SOLVE_SECONDS = (0.3, 3.0)
FORM_SECONDS = (2.0, 20.0)

#: Share of the people's tokens that the portal verifies twice at once.
DOUBLE_SUBMIT_SHARE = 0.1

#: Requests of the bots after the burst, with weights.
BOT_MIX = (("challenge", 0.5), ("wrong-answer", 0.25), ("replay-verify", 0.25))

#: Seconds a request may take before the generator counts it as timed out;
#: gunicorn kills a worker after 30 s.
REQUEST_TIMEOUT = 35

#: Requests in flight at most in open-loop mode; a request due beyond it is
#: counted as dropped by the generator and not sent.
MAX_IN_FLIGHT = 2000

# --- HTTP client -------------------------------------------------------------


@dataclasses.dataclass
class Reply:
    """Status, body and Retry-After header of one HTTP response."""

    status: int
    body: bytes
    retry_after: str | None = None


class TransportError(Exception):
    """Raised when a request got no complete HTTP response."""


class _Exchange(asyncio.Protocol):
    """One request on its own connection; the response ends when the server closes."""

    def __init__(self, request: bytes, response: asyncio.Future) -> None:
        self.request = request
        self.response = response
        self.chunks: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        self.chunks.append(data)

    def connection_lost(self, error: Exception | None) -> None:
        if self.response.done():
            return

        if error is None:
            self.response.set_result(b"".join(self.chunks))
        else:
            self.response.set_exception(
                TransportError(f"read: {error.__class__.__name__}")
            )


def _time_out(response: asyncio.Future, transport: asyncio.BaseTransport) -> None:
    if not response.done():
        response.set_exception(TimeoutError())

    transport.abort()


async def post(port: int, path: str, body: bytes, headers: bytes) -> Reply:
    """Send one POST on a new connection and read the response until EOF.

    ``headers`` are complete header lines. The request sends
    ``Connection: close``, so the server ends the response by closing. A
    protocol object costs less CPU per request than asyncio's streams.
    """
    loop = asyncio.get_running_loop()
    response = loop.create_future()
    request = (
        b"POST %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
        b"Content-Length: %d\r\n%s\r\n%s"
        % (path.encode(), port, len(body), headers, body)
    )

    try:
        transport, _ = await loop.create_connection(
            lambda: _Exchange(request, response), "127.0.0.1", port
        )
    except OSError as error:
        raise TransportError(f"connect: {error.__class__.__name__}") from None

    # A timer instead of asyncio.wait_for, which costs more per request.
    timer = loop.call_later(REQUEST_TIMEOUT, _time_out, response, transport)

    try:
        data = await response
    finally:
        timer.cancel()
        transport.close()

    head, separator, payload = data.partition(b"\r\n\r\n")

    if not separator or not head.startswith(b"HTTP/1.1 "):
        raise TransportError("malformed response")

    status = int(head[9:12])
    retry_after = None

    if status == 429:
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")

            if name.strip().lower() == b"retry-after":
                retry_after = value.strip().decode()

    return Reply(status, payload, retry_after)


JSON_HEADERS = b"Content-Type: application/json\r\nOrigin: %s\r\n" % ORIGIN.encode()


#: Client addresses in X-Forwarded-For, from 198.18.0.0/15.
MAX_CLIENTS = 2**17


def client_headers(index: int) -> bytes:
    """Return the JSON headers of client ``index``, with its own client address.

    The instances trust one proxy hop, as behind the reverse proxy of a
    production set-up, so each client counts as a network of its own. The
    addresses come from 198.18.0.0/15, the range reserved for benchmarks; no
    packet goes to them, they only appear in the header. People are clients
    0 to pool size - 1. Bots send no header, so they all count as 127.0.0.1,
    unless ``--bot-networks`` spreads them over the clients after the people.
    """
    address = f"198.{18 + index // 65536}.{index // 256 % 256}.{index % 256}"
    return JSON_HEADERS + b"X-Forwarded-For: %s\r\n" % address.encode()


FORM_HEADERS = b"Content-Type: application/x-www-form-urlencoded\r\n"


# --- Pool of solved challenges -----------------------------------------------


@dataclasses.dataclass(frozen=True)
class Site:
    """The one site of every setup, created with the same key in each store."""

    sitekey: str
    secret: str


@dataclasses.dataclass(frozen=True)
class SolvedChallenge:
    """A challenge issued before the timed phase and the body that answers it."""

    challenge_id: str
    answer_body: bytes
    #: Request headers of the person who answers it, with their address.
    headers: bytes


def challenge_body(site: Site) -> bytes:
    return json.dumps(
        {"sitekey": site.sitekey, "action": "book", "lang": "fr"}
    ).encode()


def _solve_nonces(challenge: dict) -> list[int]:
    return [
        solve(challenge["salt"], index, challenge["bits"])
        for index in range(challenge["puzzles"])
    ]


async def _issue_many(port: int, site: Site, count: int) -> list[dict]:
    body = challenge_body(site)
    issued = []

    for index in range(count):
        reply = await post(port, CHALLENGES_PATH, body, client_headers(index))

        if reply.status != 201:
            raise RuntimeError(
                f"issuing a pool challenge failed with status {reply.status}:"
                f" {reply.body[:300]!r}"
            )

        issued.append(json.loads(reply.body))

    return issued


def _quiet_solver() -> None:
    # The parent stops the solvers itself, on Ctrl+C and on SIGTERM.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def build_pool(port: int, site: Site, count: int) -> list[SolvedChallenge]:
    """Issue ``count`` challenges on ``port`` and solve them on every core."""
    issued = asyncio.run(_issue_many(port, site, count))
    started = time.monotonic()

    with multiprocessing.Pool(os.cpu_count(), _quiet_solver) as workers:
        solutions = workers.map(
            _solve_nonces, [item["challenge"] for item in issued], chunksize=1
        )

    print(
        f"solved {count} challenges in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    return [
        SolvedChallenge(
            item["challenge_id"],
            json.dumps(
                {"envelope": item["envelope"], "answer": {"nonces": nonces}}
            ).encode(),
            client_headers(index),
        )
        for index, (item, nonces) in enumerate(zip(issued, solutions))
    ]


# --- The load ------------------------------------------------------------------


@dataclasses.dataclass
class Step:
    """One request of the load and what it should get back.

    ``kind`` is one of ``challenge``, ``person-challenge``, ``answer``,
    ``wrong-answer``, ``verify``, ``double-verify`` and ``replay-verify``.
    """

    kind: str
    instance: int
    item: Any = None


class Recorder:
    """Counts, latencies and outcomes of every request of one run."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {name: [] for name in ENDPOINTS}
        self.statuses: dict[str, collections.Counter] = {
            name: collections.Counter() for name in ENDPOINTS
        }
        self.unexpected: dict[str, collections.Counter] = {
            name: collections.Counter() for name in ENDPOINTS
        }
        self.outcomes: dict[str, collections.Counter] = collections.defaultdict(
            collections.Counter
        )
        self.samples: list[str] = []
        self.successes: collections.Counter = collections.Counter()
        self.retry_after: collections.Counter = collections.Counter()
        self.dropped = 0
        self.max_lateness = 0.0

    def record(
        self, endpoint: str, kind: str, status: str, outcome: str, seconds: float
    ) -> None:
        self.latencies[endpoint].append(seconds)
        self.statuses[endpoint][status] += 1
        self.outcomes[kind][outcome] += 1

    def unexpected_reply(self, endpoint: str, kind: str, status: str, detail: str):
        self.unexpected[endpoint][status] += 1

        if len(self.samples) < 20:
            self.samples.append(f"{kind} -> {status}: {detail[:300]}")


def _scaled(bounds: tuple[float, float], seconds: float, rng: random.Random) -> float:
    return rng.uniform(*bounds) * seconds / 60


class Scenario:
    """Decide the next request from the time in the run and what came back.

    People's steps are due at set times and go first; the rest of the
    requests come from bots, with weights that depend on the phase.
    """

    def __init__(
        self,
        pool: list[SolvedChallenge],
        seconds: float,
        instances: int,
        recorder: Recorder,
        rng: random.Random,
    ) -> None:
        self.seconds = seconds
        self.instances = instances
        self.recorder = recorder
        self.rng = rng
        self.burst_end = seconds * BURST_SHARE
        self.due: list[tuple[float, int, Step]] = []
        self.sequence = 0
        self.next_instance = 0
        self.recent_challenges: collections.deque = collections.deque(maxlen=256)
        self.verified_tokens: list[str] = []
        self.tokens_issued = 0

        for item in pool:
            if rng.random() < PEOPLE_IN_BURST:
                arrival = rng.uniform(0, self.burst_end)
            else:
                arrival = rng.uniform(self.burst_end, seconds * ARRIVAL_SHARE)

            self._schedule(arrival, Step("person-challenge", self._instance(), item))

    def _instance(self) -> int:
        self.next_instance = (self.next_instance + 1) % self.instances
        return self.next_instance

    def _other(self, instance: int) -> int:
        return (instance + 1) % self.instances

    def _schedule(self, at: float, step: Step) -> None:
        self.sequence += 1
        heapq.heappush(self.due, (at, self.sequence, step))

    def next_step(self, elapsed: float) -> Step:
        """Return the request to send at ``elapsed`` seconds into the run."""
        if self.due and self.due[0][0] <= elapsed:
            return heapq.heappop(self.due)[2]

        if elapsed < self.burst_end:
            return Step("challenge", self._instance())

        kind = self.rng.choices(
            [name for name, _ in BOT_MIX], [weight for _, weight in BOT_MIX]
        )[0]

        if kind == "wrong-answer" and self.recent_challenges:
            return Step(kind, self._instance(), self.rng.choice(self.recent_challenges))

        if kind == "replay-verify" and self.verified_tokens:
            return Step(kind, self._instance(), self.rng.choice(self.verified_tokens))

        return Step("challenge", self._instance())

    # What came back shapes what follows.

    def challenge_issued(self, body: dict) -> None:
        puzzles = body.get("challenge", {}).get("puzzles", 16)
        self.recent_challenges.append((body["challenge_id"], body["envelope"], puzzles))

    def person_waited(self, step: Step, elapsed: float) -> None:
        """Schedule the answer of a person whose challenge request returned.

        The person answers the pool challenge whatever the request got back,
        so that a 429 or an error does not shrink the rest of the load.
        """
        solved_at = elapsed + _scaled(SOLVE_SECONDS, self.seconds, self.rng)
        self._schedule(solved_at, Step("answer", self._other(step.instance), step.item))

    def token_issued(self, step: Step, token: str, elapsed: float) -> None:
        self.tokens_issued += 1
        verify_at = elapsed + _scaled(FORM_SECONDS, self.seconds, self.rng)
        instance = self._other(step.instance)

        if self.rng.random() < DOUBLE_SUBMIT_SHARE:
            self._schedule(verify_at, Step("double-verify", instance, token))
            self._schedule(
                verify_at, Step("double-verify", self._other(instance), token)
            )
        else:
            self._schedule(verify_at, Step("verify", instance, token))

    def token_verified(self, token: str) -> None:
        self.verified_tokens.append(token)


class LoadRun:
    """Send the scenario's requests to the instances and record the replies."""

    def __init__(
        self,
        ports: list[int],
        site: Site,
        pool: list[SolvedChallenge],
        seconds: float,
        seed: int,
        bot_networks: int = 1,
    ) -> None:
        self.ports = ports
        self.first_bot = len(pool)
        self.bot_networks = bot_networks
        self.site = site
        self.seconds = seconds
        self.recorder = Recorder()
        self.rng = random.Random(seed)
        self.scenario = Scenario(pool, seconds, len(ports), self.recorder, self.rng)
        self.challenge_body = challenge_body(site)
        self.verify_prefix = urlencode({"secret": site.secret}) + "&response="
        self.start = 0.0

    def _elapsed(self) -> float:
        return time.monotonic() - self.start

    async def closed(self, connections: int) -> None:
        """Run ``connections`` clients that each send one request after another."""
        self.start = time.monotonic()

        async def client() -> None:
            while (elapsed := self._elapsed()) < self.seconds:
                await self.execute(self.scenario.next_step(elapsed), elapsed)

        await asyncio.gather(*(client() for _ in range(connections)))

    async def open(self, rate: float) -> None:
        """Send requests at ``rate`` per second, whether or not replies came back."""
        self.start = time.monotonic()
        in_flight: set[asyncio.Task] = set()
        count = int(self.seconds * rate)

        for index in range(count):
            due = index / rate
            delay = due - self._elapsed()

            if delay > 0:
                await asyncio.sleep(delay)

            self.recorder.max_lateness = max(
                self.recorder.max_lateness, self._elapsed() - due
            )

            if len(in_flight) >= MAX_IN_FLIGHT:
                self.recorder.dropped += 1
                continue

            task = asyncio.create_task(self.execute(self.scenario.next_step(due), due))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)

        if in_flight:
            await asyncio.wait(in_flight, timeout=REQUEST_TIMEOUT)

    async def execute(self, step: Step, due: float) -> None:
        """Send one step's request; latency counts from ``due``."""
        endpoint, path, body, headers = self._request(step)

        try:
            reply = await post(self.ports[step.instance], path, body, headers)
        except TimeoutError:
            self._fail(step, endpoint, "timeout", due)
            return
        except TransportError as error:
            self._fail(step, endpoint, f"transport ({error})", due)
            return
        finally:
            if step.kind == "person-challenge":
                self.scenario.person_waited(step, self._elapsed())

        done = self._elapsed()
        status = str(reply.status)

        outcome, expected = self._judge(step, reply, done)
        self.recorder.record(endpoint, step.kind, status, outcome, done - due)

        if reply.status == 429:
            # A per-network limit may reject some requests because they all
            # come from 127.0.0.1, so 429 is counted apart from the unexpected.
            self.recorder.retry_after[reply.retry_after or "none"] += 1
        elif not expected:
            self.recorder.unexpected_reply(
                endpoint, step.kind, status, reply.body.decode(errors="replace")
            )

    def _fail(self, step: Step, endpoint: str, status: str, due: float) -> None:
        self.recorder.record(endpoint, step.kind, status, status, self._elapsed() - due)
        self.recorder.unexpected_reply(endpoint, step.kind, status, "")

    def _request(self, step: Step) -> tuple[str, str, bytes, bytes]:
        if step.kind == "challenge":
            return "challenge", CHALLENGES_PATH, self.challenge_body, self._bot()

        if step.kind == "person-challenge":
            return "challenge", CHALLENGES_PATH, self.challenge_body, step.item.headers

        if step.kind == "answer":
            path = f"{CHALLENGES_PATH}/{step.item.challenge_id}/answer"
            return "answer", path, step.item.answer_body, step.item.headers

        if step.kind == "wrong-answer":
            challenge_id, envelope, puzzles = step.item
            # Random nonces almost surely miss a target of 16 bits or more.
            nonces = [self.rng.randrange(2**40) for _ in range(puzzles)]
            body = json.dumps({"envelope": envelope, "answer": {"nonces": nonces}})
            path = f"{CHALLENGES_PATH}/{challenge_id}/answer"
            return "answer", path, body.encode(), self._bot()

        body = (self.verify_prefix + step.item).encode()
        return "verify", VERIFY_PATH, body, FORM_HEADERS

    def _bot(self) -> bytes:
        """Return the headers of a bot, from one of ``bot_networks`` networks."""
        if self.bot_networks <= 1:
            return JSON_HEADERS

        return client_headers(self.first_bot + self.rng.randrange(self.bot_networks))

    def _judge(self, step: Step, reply: Reply, done: float) -> tuple[str, bool]:
        """Return the outcome's label and whether the step expected it."""
        try:
            body = json.loads(reply.body)
        except ValueError:
            return f"{reply.status} unreadable body", False

        if step.kind in ("challenge", "person-challenge"):
            if reply.status == 201 and "envelope" in body:
                self.scenario.challenge_issued(body)
                return "issued", True

            return f"{reply.status} {body.get('error')}", False

        if step.kind == "answer":
            token = body.get("pass_token") if reply.status == 200 else None

            if token and body.get("result", "pass") == "pass":
                self.scenario.token_issued(step, token, done)
                return "pass", True

            label = body.get("result") or body.get("error")
            return f"{reply.status} {label}", False

        if step.kind == "wrong-answer":
            label = f"{reply.status} {body.get('error') or body.get('result')}"
            return label, reply.status == 422

        if reply.status != 200:
            return f"{reply.status} {body.get('error')}", False

        if body.get("success") is True:
            self.recorder.successes[step.item] += 1

            if self.recorder.successes[step.item] == 1:
                self.scenario.token_verified(step.item)

            return "success", step.kind != "replay-verify"

        codes = body.get("error-codes") or []

        if "already-seen-response" in codes:
            # One of two simultaneous verifies must lose; a replay always does.
            return "duplicate", step.kind in ("double-verify", "replay-verify")

        return "failure " + ",".join(codes), False
