"""Fixtures of the browser suite: the real service and demo portal, and Chromium.

One ``challenge-service serve --demo`` process and one headless Chromium serve
the whole session; every test gets a fresh browser context. Everything
listens on 127.0.0.1 only.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from challenge_service import DATABASE_NAME
from challenge_service.challenges.proof_of_work import solve
from challenge_service.policies import Policies
from challenge_service.storage import open_store

from .escalation import pinned_policy
from .escalation import policy_service
from .escalation import PolicyService

playwright_sync = pytest.importorskip("playwright.sync_api")

#: Debian's Chromium; Playwright's own browser downloads are not used.
CHROMIUM = "/usr/bin/chromium"

#: Flags that keep Chromium from calling outside hosts at start.
CHROMIUM_ARGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]

#: Seconds to wait for the service and the demo portal to respond.
START_TIMEOUT = 20

#: Seconds to wait for the server process to exit after SIGTERM.
STOP_TIMEOUT = 15

#: Records CSP violations of each document in ``window.cspViolations``. Playwright
#: adds init scripts through the DevTools protocol, which the page's CSP does
#: not govern, so the listener runs under the demo's strict policy.
CSP_LISTENER = """
window.cspViolations = [];
document.addEventListener('securitypolicyviolation', (event) => {
  window.cspViolations.push({
    directive: event.violatedDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    sample: event.sample,
  });
});
"""


@dataclasses.dataclass
class DemoServer:
    """The running service and demo portal, with the demo site's keys."""

    service_url: str
    demo_url: str
    data_dir: Path
    sitekey: str
    secret: str
    log_path: Path

    def log(self) -> str:
        """Return what the server processes wrote so far."""
        return self.log_path.read_text(errors="replace")


@dataclasses.dataclass
class PageEvents:
    """Console messages and uncaught errors that a page reported."""

    console: list[Any] = dataclasses.field(default_factory=list)
    page_errors: list[Any] = dataclasses.field(default_factory=list)

    def add_console(self, message: Any) -> None:
        self.console.append(message)

    def add_page_error(self, error: Any) -> None:
        self.page_errors.append(error)

    def console_errors(self) -> list[str]:
        """Return the text and URL of every console message of type ``error``."""
        return [
            f"{message.text} ({message.location.get('url')})"
            for message in self.console
            if message.type == "error"
        ]


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _serve_command() -> list[str]:
    # The package of this checkout, not whatever an installed
    # challenge-service script imports: an editable install made from another
    # folder would run that folder's code, or fail to start.
    return [sys.executable, "-m", "challenge_service"]


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def _wait_until_up(process: subprocess.Popen, urls: list[str], log_path: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT

    for url in urls:
        while not _answers(url):
            if process.poll() is not None:
                raise RuntimeError(
                    f"serve exited with {process.returncode} before {url} answered:"
                    f"\n{log_path.read_text(errors='replace')}"
                )

            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"{url} did not answer within {START_TIMEOUT} s:"
                    f"\n{log_path.read_text(errors='replace')}"
                )

            time.sleep(0.1)


def _stop(process: subprocess.Popen) -> None:
    """Stop the server by its PID. Its own shutdown stops the demo portal."""
    if process.poll() is not None:
        return

    process.send_signal(signal.SIGTERM)

    try:
        process.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        # The process leads its own session, so its process group id is its
        # PID. Killing that group ends the service, its workers and the portal,
        # and nothing else.
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=STOP_TIMEOUT)


@pytest.fixture(scope="session")
def demo_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """Start ``challenge-service serve --demo`` for the session."""
    data_dir = tmp_path_factory.mktemp("demo-data")
    service_port = free_port()
    demo_port = free_port()
    log_path = data_dir / "serve.log"
    command = [
        *_serve_command(),
        "serve",
        "--demo",
        "--data-dir",
        str(data_dir),
        "--host",
        "127.0.0.1",
        "--port",
        str(service_port),
        "--demo-port",
        str(demo_port),
        "--workers",
        "2",
    ]
    service_url = f"http://127.0.0.1:{service_port}"
    demo_url = f"http://localhost:{demo_port}"

    with open(log_path, "w") as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
            start_new_session=True,
        )

    try:
        _wait_until_up(
            process, [service_url + "/healthz", demo_url + "/demo/"], log_path
        )
        site = json.loads((data_dir / "demo-site.json").read_text())
        _pin_demo_policy(data_dir, site["sitekey"])
        yield DemoServer(
            service_url=service_url,
            demo_url=demo_url,
            data_dir=data_dir,
            sitekey=site["sitekey"],
            secret=site["secret"],
            log_path=log_path,
        )
    finally:
        _stop(process)


def _pin_demo_policy(data_dir: Path, sitekey: str) -> None:
    """Keep the demo site at level 0, the proof of work alone, for the session.

    Every request of the suite comes from 127.0.0.1. With the default policy
    the network's request rate would raise the level after a few dozen
    challenges, and later the network limit would reject requests with 429. The tests of
    this module were written for level 0; the step tests run their own
    services with their own policies. The service reads the policy at the
    first challenge request, which comes after this.
    """
    store = open_store("", data_dir / DATABASE_NAME)
    site = store.site_by_sitekey(sitekey)
    assert site is not None, f"the demo site {sitekey} is not in {data_dir}"
    Policies(store).set(site, pinned_policy(0))


@pytest.fixture(scope="session")
def hold_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicyService]:
    """A service whose site asks everyone for a proof of work, then a hold."""
    data_dir = tmp_path_factory.mktemp("hold") / "data"

    with policy_service(data_dir, pinned_policy(2)) as service:
        yield service


@pytest.fixture(scope="session")
def image_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicyService]:
    """A service whose site asks everyone for a proof of work, then an image."""
    data_dir = tmp_path_factory.mktemp("image") / "data"

    with policy_service(data_dir, pinned_policy(3)) as service:
        yield service


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """Launch one headless Chromium for the session."""
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found; install Debian's chromium package")

    with playwright_sync.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """Open a new browser context with the CSP listener in every document."""
    context = browser.new_context()
    context.add_init_script(CSP_LISTENER)
    yield context
    context.close()


@pytest.fixture
def page_events() -> PageEvents:
    return PageEvents()


@pytest.fixture
def page(context: Any, page_events: PageEvents) -> Any:
    """Open a page that records console messages and uncaught errors."""
    page = context.new_page()
    # Playwright takes Python functions as handlers, not built-in methods.
    page.on("console", page_events.add_console)
    page.on("pageerror", page_events.add_page_error)
    return page


@pytest.fixture
def pass_token(demo_server: DemoServer) -> Callable[..., str]:
    """Return a function that gets a pass token the way the widget does.

    It calls the challenge API with the demo page's Origin and solves the
    proof of work in Python, which is faster than a browser round trip.
    """

    def get(action: str = "book") -> str:
        origin = demo_server.demo_url
        issued = _post_json(
            demo_server.service_url + "/api/v1/challenges",
            {"sitekey": demo_server.sitekey, "action": action, "lang": "fr"},
            origin,
        )
        challenge = issued["challenge"]
        nonces = [
            solve(challenge["salt"], index, challenge["bits"])
            for index in range(challenge["puzzles"])
        ]
        answered = _post_json(
            f"{demo_server.service_url}/api/v1/challenges/"
            f"{issued['challenge_id']}/answer",
            {"envelope": issued["envelope"], "answer": {"nonces": nonces}},
            origin,
        )
        return answered["pass_token"]

    return get


def _post_json(url: str, body: dict[str, Any], origin: str) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "Origin": origin},
        method="POST",
    )

    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


@dataclasses.dataclass
class BookingResponse:
    """Status, headers and HTML of a POST to the demo's booking endpoint."""

    status: int
    headers: dict[str, str]
    html: str


@pytest.fixture
def post_booking(demo_server: DemoServer) -> Callable[..., BookingResponse]:
    """Return a function that posts the booking form without a browser."""

    def post(fields: dict[str, str], lang: str = "fr") -> BookingResponse:
        query = "?lang=en" if lang == "en" else ""
        request = urllib.request.Request(
            f"{demo_server.demo_url}/demo/book{query}",
            data=urllib.parse.urlencode(fields).encode(),
            method="POST",
        )

        try:
            with urllib.request.urlopen(request, timeout=15) as response:
                return BookingResponse(
                    response.status, dict(response.headers), response.read().decode()
                )
        except urllib.error.HTTPError as error:
            with error:
                return BookingResponse(
                    error.code, dict(error.headers), error.read().decode()
                )

    return post
