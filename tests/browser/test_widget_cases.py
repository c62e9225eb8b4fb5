"""Edge cases of the widget on host pages that play a portal, in Chromium.

Each host page is served from ``http://localhost:PORT`` with a strict CSP and
loads the widget from a real service on 127.0.0.1 (see ``widget_host.py``).
Tokens are checked with the service's siteverify endpoint. Faults that the
real service cannot produce, such as a network failure or a worker crash,
are injected with ``page.route``, and each such test names its fault in its
docstring.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import axe_playwright_python.sync_playwright as axe_playwright
import pytest
from playwright.sync_api import expect

from challenge_service import DATABASE_NAME
from challenge_service.policies import Policies
from challenge_service.policy import SitePolicy
from challenge_service.storage import open_store

from .portal_steps import SOLVE_TIMEOUT_MS
from .widget_host import copy_widget
from .widget_host import HostServer
from .widget_host import PAGES_DIR
from .widget_host import PORTAL_CSP
from .widget_host import RECORDER_SCRIPT
from .widget_host import SELF_HOSTED_CSP
from .widget_host import Service
from .widget_host import short_lived_service

WIDGET = "#verification"
TOKEN_FIELD = "input[name='challenge-response']"
CHALLENGES_URL = "**/api/v1/challenges"
ANSWER_URL = "**/api/v1/challenges/*/answer"

#: Shortest token or challenge lifetime the service accepts, in seconds.
SHORT_TTL_S = 10

#: Seconds waited past a lifetime before a test relies on its end, a margin
#: for timer resolution in the test and the service.
CLOCK_MARGIN_S = 0.2

#: Jump of the page clock past the renewal of a token of the default 300 s
#: lifetime, which the widget renews 30 s before it expires, in milliseconds.
RENEWAL_JUMP_MS = 271_000

#: Maximum wait for a state change that needs no proof of work, in milliseconds.
STATE_TIMEOUT_MS = 5_000

#: Maximum wait for the renewal of a 10 s token, which the widget starts 9 s
#: after it received the token, in milliseconds: the lifetime plus one solve.
RENEWAL_TIMEOUT_MS = 10_000 + SOLVE_TIMEOUT_MS

#: Maximum Tab presses to reach a control of a host page.
MAX_TABS = 10

#: CPU slowdown that keeps a main-thread solve of a level 0 challenge (about
#: 1 M hashes) running past a 10 s challenge lifetime. In a 2-core container
#: such a solve was still running after 13 s at this rate, and ended within
#: 1 s once the rate went back to 1.
SLOW_CPU_RATE = 100

#: Widget text, from widgets/captcha/i18n.js.
IDLE_FR = "La vérification démarre dès que vous utilisez le formulaire."
WORKING_FR = "Vérification en cours…"
SUCCESS_FR = "Vérification réussie"
SPENT_FR = (
    "Vérification utilisée. Une nouvelle vérification démarrera à votre"
    " prochaine action."
)
NETWORK_ERROR_FR = "Erreur\u00a0: le service de vérification ne répond pas."
SOLVER_FAILED_FR = (
    "Erreur\u00a0: le calcul de vérification n’a pas pu s’exécuter sur cet appareil."
)
VERIFY_NOW_FR = "Vérifier maintenant"
RETRY_FR = "Réessayer"

#: WCAG 2.0, 2.1 and 2.2 levels A and AA, as axe-core tags them.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

#: Returns the id of the focused element and, inside a shadow root, the class
#: of the element focused there.
FOCUS_PATH = """() => {
  const outer = document.activeElement;
  const inner = outer && outer.shadowRoot ? outer.shadowRoot.activeElement : null;
  return [outer ? outer.id : null, inner ? inner.className : null];
}"""

#: Calls execute() and records how its promise settles in window.executeOutcomes.
TRACK_EXECUTE = """(id) => {
  window.executeOutcomes = [];
  challengeWidget.execute(id).then(
    (token) => window.executeOutcomes.push({kind: 'resolved', token}),
    (error) => window.executeOutcomes.push({
      kind: 'rejected',
      code: error.code,
      name: error.name,
      isError: error instanceof Error,
    }),
  );
}"""

#: Returns the code of the error that execute() rejects with, or "resolved".
EXECUTE_CODE = """(id) => challengeWidget.execute(id).then(
  () => 'resolved',
  (error) => error.code,
)"""

#: Worker source that throws before it sends its ready message.
WORKER_FAILS_AT_START = "throw new Error('injected worker start-up failure');\n"

#: Worker source that starts, then throws on the first job.
WORKER_CRASHES_ON_JOB = """
self.postMessage({type: 'ready'});
self.onmessage = function () { throw new Error('injected worker crash'); };
"""

#: sha256.js replacement whose search throws, in the worker and on the main thread.
SOLVER_CRASHES = """
self.challengeSolver = {
  createSearch: function () { throw new Error('injected solver crash'); }
};
"""


# Fixtures


@pytest.fixture
def demo_service(demo_server: Any) -> Service:
    """The session's demo service, with the default lifetimes of 300 s."""
    return Service(demo_server.service_url, demo_server.sitekey, demo_server.secret)


@pytest.fixture(scope="module")
def token_ttl_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A service whose pass tokens live 10 s."""
    data_dir = tmp_path_factory.mktemp("token-ttl")

    with service_without_quota(
        data_dir, {"CHALLENGE_SERVICE_TOKEN_TTL": str(SHORT_TTL_S)}
    ) as service:
        yield service


@pytest.fixture(scope="module")
def challenge_ttl_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Service]:
    """A service whose challenges can be answered for 10 s."""
    data_dir = tmp_path_factory.mktemp("challenge-ttl")
    env = {"CHALLENGE_SERVICE_CHALLENGE_TTL": str(SHORT_TTL_S)}

    with service_without_quota(data_dir, env) as service:
        yield service


@contextmanager
def service_without_quota(data_dir: Path, env: dict[str, str]) -> Iterator[Service]:
    """Run a short-lived service whose demo site has the default policy.

    ``serve --demo`` gives its site a quota on the ``book`` action, and a
    quota requires a risk ticket, which the host pages do not send. The
    service reads the policy at the first challenge request, after this.
    """
    with short_lived_service(data_dir, env) as service:
        store = open_store("", data_dir / DATABASE_NAME)
        Policies(store).set(store.site_by_sitekey(service.sitekey), SitePolicy())
        yield service


@pytest.fixture
def serve_pages() -> Iterator[Callable[..., HostServer]]:
    """Return a function that starts a host page server.

    Every server it started stops at teardown.
    """
    servers: list[HostServer] = []

    def start(
        service: Service,
        csp: str = PORTAL_CSP,
        mounts: dict[str, Path] | None = None,
    ) -> HostServer:
        server = HostServer(service, csp, mounts or {"/": PAGES_DIR})
        servers.append(server)
        return server

    yield start

    for server in servers:
        server.stop()


@pytest.fixture
def host_page(context: Any, page_events: Any) -> Any:
    """Open a page that records widget states, unhandled rejections and errors."""
    context.add_init_script(RECORDER_SCRIPT)
    page = context.new_page()
    page.on("console", page_events.add_console)
    page.on("pageerror", page_events.add_page_error)
    return page


# Helpers


def open_idle(page: Any, server: HostServer, name: str) -> Any:
    """Open a host page and return the widget locator once it shows idle."""
    page.goto(f"{server.url}/{name}")
    widget = page.locator(WIDGET)
    expect(widget).to_have_attribute("data-state", "idle", timeout=STATE_TIMEOUT_MS)
    return widget


def wait_for_state(widget: Any, state: str, timeout: int = SOLVE_TIMEOUT_MS) -> None:
    expect(widget).to_have_attribute("data-state", state, timeout=timeout)


def recorded(page: Any, name: str) -> Any:
    """Return the value of ``window.NAME`` in the page, where NAME may be dotted."""
    return page.evaluate(f"window.{name}")


def host_events(page: Any, event_type: str) -> list[dict[str, Any]]:
    """Return the host page's records of one kind: token, expired, error or submit."""
    return [
        event
        for event in recorded(page, "widgetHost.events")
        if event["type"] == event_type
    ]


def states(page: Any) -> list[str]:
    """Return every data-state value the widget took, in order."""
    return [entry["state"] for entry in recorded(page, "stateLog")]


def focus_path(page: Any) -> list[str | None]:
    return page.evaluate(FOCUS_PATH)


def tab_to(page: Any, path: list[str | None]) -> None:
    """Press Tab until the focus path equals ``path``."""
    for _ in range(MAX_TABS):
        page.keyboard.press("Tab")

        if focus_path(page) == path:
            return

    raise AssertionError(f"focus never reached {path} in {MAX_TABS} Tab presses")


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Run axe-core with the WCAG A and AA rules and return the violations."""
    options = {
        "runOnly": {"type": "tag", "values": WCAG_TAGS},
        "resultTypes": ["violations"],
    }
    return axe_playwright.Axe().run(page, options=options).response["violations"]


def describe(violations: list[dict[str, Any]]) -> str:
    """Return one line per violation and element, for assertion messages."""
    return "\n".join(
        f"{violation['id']}: {node['target']} {node['failureSummary']}"
        for violation in violations
        for node in violation["nodes"]
    )


def serve_script(page: Any, pattern: str, source: str) -> None:
    """Fulfil requests for ``pattern`` with ``source`` in place of the service's file.

    The header lets the widget load it cross-origin, as the service does.
    """
    page.route(
        pattern,
        lambda route: route.fulfill(
            status=200,
            content_type="text/javascript",
            headers={"Access-Control-Allow-Origin": "*"},
            body=source,
        ),
    )


def hold_requests(page: Any, pattern: str) -> list[Any]:
    """Route requests for ``pattern`` to a handler that leaves them pending.

    Returns the list of those routes, which grows as requests arrive.
    """
    held_routes: list[Any] = []

    # Playwright takes Python functions as handlers, not built-in methods.
    def hold(route: Any) -> None:
        held_routes.append(route)

    page.route(pattern, hold)
    return held_routes


def wait_for_held(page: Any, held_routes: list[Any], count: int) -> None:
    """Wait until ``count`` requests are held.

    Playwright calls a route handler some time after the page sends the
    request, so a test that needs the route waits here.
    """
    for _ in range(STATE_TIMEOUT_MS // 50):
        if len(held_routes) >= count:
            return

        page.wait_for_timeout(50)

    raise AssertionError(f"{len(held_routes)} requests held, expected {count}")


# 1. Reset and spent tokens


def test_reset_after_verify_new_token(demo_service, serve_pages, host_page) -> None:
    page = host_page
    widget = open_idle(page, serve_pages(demo_service), "form.html")
    page.focus("#name")
    wait_for_state(widget, "success")
    first = page.locator(TOKEN_FIELD).input_value()

    assert demo_service.verify(first)["success"] is True

    page.evaluate("challengeWidget.reset()")

    wait_for_state(widget, "idle", STATE_TIMEOUT_MS)
    expect(page.locator(TOKEN_FIELD)).to_have_value("")
    assert page.evaluate("challengeWidget.getResponse()") == ""

    second = page.evaluate("challengeWidget.execute()")

    assert second
    assert second != first
    expect(page.locator(TOKEN_FIELD)).to_have_value(second)
    assert demo_service.verify(second)["success"] is True

    replay = demo_service.verify(first)

    assert replay["success"] is False
    assert replay["error-codes"] == ["timeout-or-duplicate", "already-seen-response"]


def test_reset_then_execute_same_task(demo_service, serve_pages, host_page) -> None:
    """A portal resets the widget and requests a new token in one handler."""
    page = host_page
    widget = open_idle(page, serve_pages(demo_service), "form.html")
    page.focus("#name")
    wait_for_state(widget, "success")
    first = page.locator(TOKEN_FIELD).input_value()

    assert demo_service.verify(first)["success"] is True

    after_reset = page.evaluate(
        """async () => {
            challengeWidget.reset();
            const response = challengeWidget.getResponse();
            const field = document.querySelector("input[name='challenge-response']");
            const fieldValue = field.value;
            return {response, field: fieldValue, token: await challengeWidget.execute()};
        }"""
    )
    second = after_reset["token"]

    assert second != first
    assert demo_service.verify(second)["success"] is True
    assert after_reset["response"] == ""
    assert after_reset["field"] == ""


def test_submit_spends_token(demo_service, serve_pages, host_page) -> None:
    page = host_page
    widget = open_idle(page, serve_pages(demo_service), "form.html")
    page.focus("#name")
    wait_for_state(widget, "success")
    first = page.locator(TOKEN_FIELD).input_value()
    page.keyboard.press("Enter")

    wait_for_state(widget, "expired", STATE_TIMEOUT_MS)
    submissions = recorded(page, "widgetHost.submissions")

    assert [entry["challenge-response"] for entry in submissions] == [first]
    expect(page.locator(TOKEN_FIELD)).to_have_value("")
    expect(widget.locator(".cw-status")).to_have_text(SPENT_FR)
    assert page.evaluate("challengeWidget.getResponse()") == ""
    assert [event["field"] for event in host_events(page, "expired")] == [""]

    second = page.evaluate("challengeWidget.execute()")

    assert second not in ("", first)
    page.keyboard.press("Enter")
    wait_for_state(widget, "expired", STATE_TIMEOUT_MS)
    page.keyboard.type("x")
    wait_for_state(widget, "success")
    third = page.locator(TOKEN_FIELD).input_value()
    submissions = recorded(page, "widgetHost.submissions")
    offered = [event["detail"] for event in host_events(page, "token")]

    assert [entry["challenge-response"] for entry in submissions] == [first, second]
    assert third not in ("", first, second)
    assert offered == [first, second, third]
    assert demo_service.verify(third)["success"] is True


def test_submit_during_execute_spends(demo_service, serve_pages, host_page) -> None:
    """A submit handler awaiting execute() gets the token, which is then spent."""
    page = host_page
    widget = open_idle(page, serve_pages(demo_service), "form.html")
    page.evaluate(
        """() => {
            window.awaited = challengeWidget.execute();
            document.getElementById('booking').requestSubmit();
        }"""
    )
    token = page.evaluate("window.awaited")

    wait_for_state(widget, "expired", STATE_TIMEOUT_MS)
    submissions = recorded(page, "widgetHost.submissions")

    assert token
    # The browser built the form data before the token existed.
    assert [entry["challenge-response"] for entry in submissions] == [""]
    expect(page.locator(TOKEN_FIELD)).to_have_value("")
    assert page.evaluate("challengeWidget.getResponse()") == ""
    assert len(host_events(page, "expired")) == 1
    assert demo_service.verify(token)["success"] is True


# 2. and 3. Lifetimes of tokens and challenges


def test_token_expiry_renews_token(token_ttl_service, serve_pages, host_page) -> None:
    page = host_page
    widget = open_idle(page, serve_pages(token_ttl_service), "form.html")
    page.locator("#name").press_sequentially("Camille Martin")
    wait_for_state(widget, "success")
    first_received = time.monotonic()
    first = page.locator(TOKEN_FIELD).input_value()

    expect(page.locator("html")).to_have_attribute(
        "data-token-count", "2", timeout=RENEWAL_TIMEOUT_MS
    )
    wait_for_state(widget, "success", STATE_TIMEOUT_MS)
    events = recorded(page, "widgetHost.events")
    second = page.locator(TOKEN_FIELD).input_value()

    assert [event["type"] for event in events] == ["token", "expired", "token"]
    assert events[1]["field"] == ""
    assert events[2]["detail"] == second
    assert second not in ("", first)
    assert "error" not in states(page)
    expect(page.locator("#name")).to_have_value("Camille Martin")
    assert token_ttl_service.verify(second)["success"] is True

    # The widget renews a token 1 s before it expires, so the first token may
    # still be valid here. The service issued it before first_received, so it
    # has expired once its lifetime has passed from then.
    expired_at = first_received + SHORT_TTL_S + CLOCK_MARGIN_S
    time.sleep(max(0.0, expired_at - time.monotonic()))
    stale = token_ttl_service.verify(first)

    assert stale["success"] is False
    assert stale["error-codes"] == ["timeout-or-duplicate", "expired-input-response"]


def test_expired_callback_reads_response(demo_service, serve_pages, host_page) -> None:
    """The page clock jumps past the renewal time of a 300 s token, twice.

    The expired callback calls getResponse(), as a portal does to disable its
    submit button.
    """
    page = host_page
    page.clock.install()
    widget = open_idle(page, serve_pages(demo_service), "form.html")
    page.evaluate("widgetHost.readResponseOnExpiry = true")
    page.focus("#name")
    wait_for_state(widget, "success")
    page.clock.fast_forward(RENEWAL_JUMP_MS)

    expect(page.locator("html")).to_have_attribute(
        "data-token-count", "2", timeout=SOLVE_TIMEOUT_MS
    )
    assert [event["detail"] for event in host_events(page, "expired")] == [""]
    assert "expired" not in states(page)

    page.clock.fast_forward(RENEWAL_JUMP_MS)

    expect(page.locator("html")).to_have_attribute(
        "data-token-count", "3", timeout=SOLVE_TIMEOUT_MS
    )
    assert [event["detail"] for event in host_events(page, "expired")] == ["", ""]
    assert "expired" not in states(page)


def test_challenge_expired_before_use(
    challenge_ttl_service, serve_pages, host_page
) -> None:
    page = host_page
    widget = open_idle(page, serve_pages(challenge_ttl_service), "form.html")
    page.wait_for_timeout((SHORT_TTL_S + 1) * 1000)

    assert states(page) == ["idle"]

    page.focus("#name")
    wait_for_state(widget, "success")
    token = page.locator(TOKEN_FIELD).input_value()
    alerts = {entry["alert"] for entry in recorded(page, "stateLog")}

    assert states(page) == ["idle", "working", "success"]
    assert alerts == {""}
    assert host_events(page, "error") == []
    assert challenge_ttl_service.verify(token)["success"] is True


def test_challenge_expired_during_solve(
    challenge_ttl_service, serve_pages, context, host_page
) -> None:
    """A main-thread solve slowed by CPU throttling outlives its challenge."""
    page = host_page
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    server = serve_pages(challenge_ttl_service)
    widget = open_idle(page, server, "explicit.html?solver=main-thread")
    cdp = context.new_cdp_session(page)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": SLOW_CPU_RATE})

    with page.expect_response(CHALLENGES_URL):
        page.focus("#name")

    # The service issued the challenge before its response arrived here, so
    # the challenge has expired once its lifetime has passed from now. The
    # wait is in Python because Playwright's own waits slow down with the CPU.
    time.sleep(SHORT_TTL_S + CLOCK_MARGIN_S)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": 1})
    wait_for_state(widget, "success")
    token = page.locator(TOKEN_FIELD).input_value()

    answers = [response for response in responses if response.url.endswith("/answer")]

    assert [answer.status for answer in answers] == [410, 200], "no answer expired"
    assert answers[0].json()["error"] == "expired"
    assert states(page) == ["idle", "working", "success"]
    assert [event["type"] for event in recorded(page, "widgetHost.events")] == ["token"]
    assert challenge_ttl_service.verify(token)["success"] is True


# 5. execute() settles once


def test_execute_resolves_with_token(
    demo_service, serve_pages, host_page, page_events
) -> None:
    page = host_page
    open_idle(page, serve_pages(demo_service), "explicit.html")
    widget_id = recorded(page, "widgetHost.widgetId")
    tokens = page.evaluate(
        "(id) => Promise.all([challengeWidget.execute(id), challengeWidget.execute(id)])",
        widget_id,
    )

    assert tokens[0]
    assert tokens[0] == tokens[1]
    assert (
        page.evaluate("(id) => challengeWidget.getResponse(id)", widget_id) == tokens[0]
    )
    expect(page.locator(TOKEN_FIELD)).to_have_value(tokens[0])
    assert [event["detail"] for event in host_events(page, "token")] == [tokens[0]]
    assert page.evaluate("(id) => challengeWidget.execute(id)", widget_id) == tokens[0]
    assert demo_service.verify(tokens[0])["success"] is True
    assert recorded(page, "unhandledRejections") == []
    assert page_events.page_errors == []


def test_execute_rejects_on_remove(
    demo_service, serve_pages, host_page, page_events
) -> None:
    """The answer request is held pending, so remove() lands during the work."""
    page = host_page
    held_routes = hold_requests(page, ANSWER_URL)
    widget = open_idle(page, serve_pages(demo_service), "explicit.html")
    widget_id = recorded(page, "widgetHost.widgetId")

    page.evaluate(TRACK_EXECUTE, widget_id)
    wait_for_held(page, held_routes, 1)

    assert widget.get_attribute("data-state") == "working"

    with page.expect_event("requestfailed") as failed:
        page.evaluate("(id) => challengeWidget.remove(id)", widget_id)

    assert failed.value.url.endswith("/answer")
    assert failed.value.failure == "net::ERR_ABORTED"
    expect(widget).not_to_have_attribute("data-state", re.compile("."))
    expect(page.locator(TOKEN_FIELD)).to_have_count(0)
    assert recorded(page, "executeOutcomes") == [
        {
            "kind": "rejected",
            "code": "removed",
            "name": "ChallengeWidgetError",
            "isError": True,
        }
    ]
    assert page.evaluate(EXECUTE_CODE, widget_id) == "removed"
    assert widget.evaluate("element => element.shadowRoot.childElementCount") == 0
    assert recorded(page, "widgetHost.events") == []
    assert recorded(page, "unhandledRejections") == []
    assert page_events.page_errors == []


def test_execute_rejects_on_reset(
    demo_service, serve_pages, host_page, page_events
) -> None:
    """The answer request is held pending, so reset() lands during the work."""
    page = host_page
    held_routes = hold_requests(page, ANSWER_URL)
    widget = open_idle(page, serve_pages(demo_service), "explicit.html")
    widget_id = recorded(page, "widgetHost.widgetId")
    page.evaluate(TRACK_EXECUTE, widget_id)
    # A second call whose promise the page ignores.
    page.evaluate("(id) => { challengeWidget.execute(id); }", widget_id)
    wait_for_held(page, held_routes, 1)

    assert widget.get_attribute("data-state") == "working"

    with page.expect_event("requestfailed") as failed:
        page.evaluate("(id) => challengeWidget.reset(id)", widget_id)

    assert failed.value.url.endswith("/answer")
    assert failed.value.failure == "net::ERR_ABORTED"
    wait_for_state(widget, "idle", STATE_TIMEOUT_MS)
    expect(page.locator(TOKEN_FIELD)).to_have_value("")
    assert recorded(page, "executeOutcomes") == [
        {
            "kind": "rejected",
            "code": "reset",
            "name": "ChallengeWidgetError",
            "isError": True,
        }
    ]
    assert recorded(page, "unhandledRejections") == []

    page.unroute_all(behavior="ignoreErrors")
    token = page.evaluate("(id) => challengeWidget.execute(id)", widget_id)

    assert demo_service.verify(token)["success"] is True
    assert [event["detail"] for event in host_events(page, "token")] == [token]
    assert recorded(page, "unhandledRejections") == []
    assert page_events.page_errors == []


# 6. Solver failures


@pytest.mark.parametrize(
    "worker_source",
    [WORKER_FAILS_AT_START, WORKER_CRASHES_ON_JOB],
    ids=["start-up", "crash"],
)
def test_worker_failure_uses_main_thread(
    demo_service, serve_pages, host_page, worker_source
) -> None:
    """worker.js is replaced by a faulty script, which the blob: worker runs."""
    page = host_page
    serve_script(page, "**/widget/v1/worker.js", worker_source)
    widget = open_idle(page, serve_pages(demo_service), "form.html")
    page.focus("#name")
    wait_for_state(widget, "success")
    token = page.locator(TOKEN_FIELD).input_value()

    expect(widget).to_have_attribute("data-solver-used", "main-thread")
    assert "error" not in states(page)
    assert host_events(page, "error") == []
    assert demo_service.verify(token)["success"] is True


def test_all_solvers_fail_show_error(demo_service, serve_pages, host_page) -> None:
    """sha256.js is replaced by a script whose search throws in every placement."""
    page = host_page
    serve_script(page, "**/widget/v1/sha256.js", SOLVER_CRASHES)
    widget = open_idle(page, serve_pages(demo_service), "form.html")
    page.focus("#name")

    wait_for_state(widget, "error")
    expect(widget).to_have_attribute("data-error-code", "solver-failed")
    expect(widget.locator(".cw-alert")).to_have_attribute("role", "alert")
    expect(widget.locator(".cw-alert")).to_have_text(SOLVER_FAILED_FR)
    expect(widget.locator(".cw-button")).to_be_visible()
    expect(widget.locator(".cw-button")).to_have_text(RETRY_FR)
    expect(page.locator(TOKEN_FIELD)).to_have_value("")

    errors = [event["detail"] for event in host_events(page, "error")]

    assert errors == [
        {"code": "solver-failed", "isError": True, "errorCode": "solver-failed"}
    ]
    assert host_events(page, "token") == []


# 7. Self-hosted widget files


def test_self_hosted_strict_csp(
    demo_service, serve_pages, host_page, page_events, tmp_path
) -> None:
    page = host_page
    mounts = {"/": PAGES_DIR, "/captcha/": copy_widget(tmp_path / "captcha")}
    server = serve_pages(demo_service, SELF_HOSTED_CSP, mounts)
    response = page.goto(f"{server.url}/self-hosted.html")
    widget = page.locator(WIDGET)

    assert response.headers["content-security-policy"] == (
        "default-src 'self'; script-src 'self'; style-src 'self';"
        f" worker-src 'self'; connect-src 'self' {demo_service.url}"
    )

    wait_for_state(widget, "success")
    token = page.locator(TOKEN_FIELD).input_value()

    expect(widget).to_have_attribute("data-solver-used", "worker")
    # captcha.css sets display: flex, so this shows that the <link> applied.
    expect(widget.locator(".cw-widget")).to_have_css("display", "flex")
    assert recorded(page, "cspViolations") == []
    assert page_events.console_errors() == []
    assert demo_service.verify(token)["success"] is True


# 8. Accessibility of each state


def check_state_view(
    page: Any,
    widget: Any,
    state: str,
    focus: list[str | None],
    status: str,
    alert: str,
) -> None:
    """Check one state: axe-core, the focus the test set and the live regions."""
    wait_for_state(widget, state, STATE_TIMEOUT_MS)
    violations = axe_violations(page)

    assert violations == [], f"{state}:\n{describe(violations)}"
    assert focus_path(page) == focus, state
    expect(widget.locator(".cw-status")).to_have_attribute("role", "status")
    expect(widget.locator(".cw-status")).to_have_text(status)
    expect(widget.locator(".cw-alert")).to_have_attribute("role", "alert")
    expect(widget.locator(".cw-alert")).to_have_text(alert)


def test_states_accessible(demo_service, serve_pages, host_page) -> None:
    """Challenge requests are held to show working, then aborted to show error."""
    page = host_page
    held_routes = hold_requests(page, CHALLENGES_URL)
    widget = open_idle(page, serve_pages(demo_service), "form.html")
    page.focus("#outside")
    check_state_view(page, widget, "idle", ["outside", None], IDLE_FR, "")
    expect(widget.locator(".cw-button")).to_have_text(VERIFY_NOW_FR)

    page.focus("#name")
    check_state_view(page, widget, "working", ["name", None], WORKING_FR, "")
    wait_for_held(page, held_routes, 1)

    for route in held_routes:
        route.continue_()

    page.unroute(CHALLENGES_URL)

    wait_for_state(widget, "success")
    check_state_view(page, widget, "success", ["name", None], SUCCESS_FR, "")
    expect(widget.locator(".cw-button")).to_be_hidden()

    page.keyboard.press("Enter")
    check_state_view(page, widget, "expired", ["name", None], SPENT_FR, "")
    expect(widget.locator(".cw-button")).to_have_text(VERIFY_NOW_FR)

    page.route(CHALLENGES_URL, lambda route: route.abort("internetdisconnected"))
    page.keyboard.type("x")
    check_state_view(page, widget, "error", ["name", None], "", NETWORK_ERROR_FR)
    expect(widget.locator(".cw-button")).to_have_text(RETRY_FR)


# 9. Keyboard only


@pytest.mark.parametrize("key", ["Enter", "Space"])
def test_keyboard_retry_after_error(demo_service, serve_pages, host_page, key) -> None:
    """Challenge requests fail as if offline until the person retries."""
    page = host_page
    page.route(CHALLENGES_URL, lambda route: route.abort("internetdisconnected"))
    widget = open_idle(page, serve_pages(demo_service), "form.html")
    tab_to(page, ["name", None])

    wait_for_state(widget, "error", STATE_TIMEOUT_MS)
    expect(widget).to_have_attribute("data-error-code", "network-error")
    tab_to(page, ["verification", "cw-button"])
    page.unroute(CHALLENGES_URL)
    page.keyboard.press(key)

    wait_for_state(widget, "success")
    token = page.locator(TOKEN_FIELD).input_value()

    # The retry button hid while it had the focus, so the group took it.
    assert focus_path(page) == ["verification", "cw-widget"]
    assert states(page)[-3:] == ["error", "working", "success"]
    assert demo_service.verify(token)["success"] is True
