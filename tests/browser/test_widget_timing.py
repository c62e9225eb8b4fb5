"""Press-and-hold and wait steps of the widget, in Chromium, with the real service.

The site's policy pins every visitor to level 2 (``hold_service`` in
conftest.py): a proof of work, then a press-and-hold step whose alternative
is a wait. Each flow ends in a pass
token that the service's siteverify accepts with the site's secret, as the
portal's back end would check it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from challenge_service import challenges

from .escalation import pinned_policy
from .escalation import policy_service
from .escalation import PolicyService
from .escalation import QUIET_HALVES
from .portal_steps import fill_with_keyboard
from .step_pages import announcements
from .step_pages import ChallengeLog
from .step_pages import focus_path
from .step_pages import HOLD_HELP_FR
from .step_pages import hold_ms
from .step_pages import HOLD_READY_FR
from .step_pages import IMAGE_HELP_EN
from .step_pages import IMAGE_HELP_FR
from .step_pages import IMAGE_SHOWN_EN
from .step_pages import IMAGE_SHOWN_FR
from .step_pages import open_form
from .step_pages import pointer_presses
from .step_pages import RECORDERS_SCRIPT
from .step_pages import STEP_CSP
from .step_pages import tab_to
from .step_pages import tab_to_text
from .step_pages import token
from .step_pages import wait_for_state
from .step_pages import wait_for_step
from .step_pages import WAIT_STARTED_FR
from .step_pages import wording
from .widget_host import HostServer
from .widget_host import PAGES_DIR

#: Widget text, from widgets/captcha/i18n.js.
STEP_2_OF_2_FR = "Étape 2 sur 2."
HOLD_STARTED_FR = "Maintien en cours, continuez…"
HOLD_HALF_FR = "À moitié, continuez…"
HOLD_DONE_FR = "C’est bon, vous pouvez relâcher."
HOLD_EARLY_FR = (
    "Relâché trop tôt. Recommencez et maintenez jusqu’à ce que la barre soit pleine."
)
CANNOT_HOLD_FR = "Je ne peux pas maintenir une touche"
HOLD_CLICK_HINT_FR = (
    "Ce bouton se maintient enfoncé, un clic ne suffit pas. Si vous ne pouvez"
    " pas le maintenir, choisissez «\u00a0Je ne peux pas maintenir une touche\u00a0»."
)
WAIT_DONE_FR = "Attente terminée."
SUCCESS_FR = "Vérification réussie"

#: Wait of the alternative to a hold at level 2, in ms (challenges/timing.py).
LEVEL_2_WAIT_MS = 5000

#: Time a test holds a key or button down before it lets go too early, in ms.
EARLY_RELEASE_MS = 400

#: Maximum wait for the end of a hold or a wait and its answer, in ms.
STEP_TIMEOUT_MS = 15_000

#: Shifts the page's Date by a fixed number of milliseconds, in every
#: document: a device whose clock is wrong. Timers and performance.now() keep
#: the real pace.
SHIFT_DATE_SCRIPT = """
(() => {
  const shift = %d;
  const RealDate = Date;
  class ShiftedDate extends RealDate {
    constructor(...args) {
      if (args.length === 0) super(RealDate.now() + shift);
      else super(...args);
    }
    static now() { return RealDate.now() + shift; }
  }
  window.Date = ShiftedDate;
})();
"""

#: Makes performance.now() run twice as fast as real time in the page.
FAST_PERFORMANCE_SCRIPT = """
(() => {
  const realNow = performance.now.bind(performance);
  const origin = realNow();
  performance.now = () => origin + (realNow() - origin) * 2;
})();
"""

TWO_HOURS_MS = 2 * 3600 * 1000

#: Returns the time from the end of the /replace response to the start of the
#: last /answer request, in ms, from the page's Resource Timing entries.
#: Playwright reports network events to the test later than they happen, so
#: the test cannot time them itself.
WAITED_MS = """() => {
  const entries = performance.getEntriesByType('resource');
  const replaced = entries.filter((entry) => entry.name.endsWith('/replace')).pop();
  const answered = entries.filter((entry) => entry.name.endsWith('/answer')).pop();
  return answered.startTime - replaced.responseEnd;
}"""


@pytest.fixture(scope="module")
def ticket_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PolicyService]:
    """A service whose level follows the portal's risk only, up to level 2."""
    policy = pinned_policy(0, max_level=2, halves=QUIET_HALVES)
    with policy_service(tmp_path_factory.mktemp("ticket") / "data", policy) as service:
        yield service


@pytest.fixture
def serve_pages() -> Iterator[Callable[[Any], HostServer]]:
    servers: list[HostServer] = []

    def start(service: Any) -> HostServer:
        server = HostServer(service, STEP_CSP, {"/": PAGES_DIR})
        servers.append(server)
        return server

    yield start

    for server in servers:
        server.stop()


@pytest.fixture
def step_page(context: Any, page_events: Any) -> Any:
    """Open a page that records announcements, pointer presses and errors."""
    context.add_init_script(RECORDERS_SCRIPT)
    page = context.new_page()
    page.on("console", page_events.add_console)
    page.on("pageerror", page_events.add_page_error)
    return page


def answer_bodies(page_requests: list[Any]) -> list[dict[str, Any]]:
    return [
        request.post_data_json
        for request in page_requests
        if request.url.endswith("/answer")
    ]


def record_requests(page: Any) -> list[Any]:
    requests: list[Any] = []
    page.on("request", lambda request: requests.append(request))
    return requests


def assert_verifies(service: PolicyService, pass_token: str) -> dict[str, Any]:
    result = service.verify(pass_token)

    assert result["success"] is True, result
    assert result["kinds"] == ["pow", "timing"]
    assert result["level"] == 2
    return result


def start_with_keyboard(page: Any) -> None:
    """Tab into the name field, which starts the check, and type a name."""
    for _ in range(4):
        page.keyboard.press("Tab")

        if focus_path(page)[0] == "name":
            break

    page.keyboard.type("Camille Martin")


def hold_key_until_success(page: Any, widget: Any, key: str) -> None:
    page.keyboard.down(key)
    wait_for_state(widget, "success", STEP_TIMEOUT_MS)
    page.keyboard.up(key)


# Press and hold.


def test_hold_with_mouse(hold_service, serve_pages, step_page, page_events) -> None:
    page = step_page
    log = ChallengeLog(page)
    requests = record_requests(page)
    widget = open_form(page, serve_pages(hold_service))
    page.focus("#name")
    wait_for_step(widget, "hold")
    seconds = -(-hold_ms(log) // 1000)
    index = wording(log, "timing")

    ready = HOLD_READY_FR[index].format(seconds=seconds)

    expect(widget.locator(".cw-status")).to_have_text(f"{STEP_2_OF_2_FR} {ready}")
    expect(widget.locator(".cw-help")).to_have_text(
        HOLD_HELP_FR[index].format(seconds=seconds)
    )

    button = widget.locator(".cw-hold")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.down()
    expect(button).to_have_class("cw-hold cw-pressed")
    wait_for_state(widget, "success", STEP_TIMEOUT_MS)
    page.mouse.up()

    answer = answer_bodies(requests)[-1]["answer"]

    assert answer["input"] == "pointer"
    assert answer["held_ms"] >= hold_ms(log)
    assert HOLD_DONE_FR in announcements(page)
    expect(widget.locator(".cw-status")).to_have_text(SUCCESS_FR)
    assert_verifies(hold_service, token(page))
    assert page_events.page_errors == []


def test_hold_with_touch(hold_service, serve_pages, browser) -> None:
    """A finger holds the button: touch events through the DevTools protocol."""
    context = browser.new_context(has_touch=True)

    try:
        page = context.new_page()
        requests = record_requests(page)
        log = ChallengeLog(page)
        widget = open_form(page, serve_pages(hold_service))
        page.focus("#name")
        wait_for_step(widget, "hold")
        button = widget.locator(".cw-hold")
        button.scroll_into_view_if_needed()
        box = button.bounding_box()
        point = {"x": box["x"] + box["width"] / 2, "y": box["y"] + box["height"] / 2}
        cdp = context.new_cdp_session(page)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [point]})
        wait_for_state(widget, "success", STEP_TIMEOUT_MS)
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        answer = answer_bodies(requests)[-1]["answer"]

        assert answer["input"] == "touch"
        assert answer["held_ms"] >= hold_ms(log)
        assert_verifies(hold_service, token(page))
    finally:
        context.close()


@pytest.mark.parametrize("key", ["Space", "Enter"])
def test_hold_with_key_only(hold_service, serve_pages, step_page, key) -> None:
    page = step_page
    log = ChallengeLog(page)
    requests = record_requests(page)
    widget = open_form(page, serve_pages(hold_service))
    start_with_keyboard(page)
    wait_for_step(widget, "hold")
    tab_to(page, "cw-hold")

    # Released too early: the bar resets and the status says so.
    page.keyboard.down(key)
    page.wait_for_timeout(EARLY_RELEASE_MS)
    page.keyboard.up(key)

    expect(widget.locator(".cw-status")).to_have_text(HOLD_EARLY_FR)
    expect(widget.locator(".cw-progress")).to_have_attribute("value", "0")
    assert focus_path(page) == ["verification", "cw-hold"]

    before = len(announcements(page))
    page.keyboard.down(key)
    expect(widget.locator(".cw-status")).to_have_text(HOLD_HALF_FR)
    # The focus stays on the button while it is held.
    assert focus_path(page) == ["verification", "cw-hold cw-pressed"]
    wait_for_state(widget, "success", STEP_TIMEOUT_MS)
    page.keyboard.up(key)
    spoken = announcements(page)[before:]

    assert spoken == [HOLD_STARTED_FR, HOLD_HALF_FR, HOLD_DONE_FR, SUCCESS_FR]
    assert answer_bodies(requests)[-1]["answer"]["input"] == "key"
    assert answer_bodies(requests)[-1]["answer"]["held_ms"] >= hold_ms(log)
    assert pointer_presses(page) == []
    assert_verifies(hold_service, token(page))


def test_wait_instead_of_hold(hold_service, serve_pages, step_page) -> None:
    page = step_page
    log = ChallengeLog(page)
    requests = record_requests(page)
    widget = open_form(page, serve_pages(hold_service))
    start_with_keyboard(page)
    wait_for_step(widget, "hold")
    # A screen reader in browse mode sends a click alone, which cannot hold.
    widget.locator(".cw-hold").dispatch_event("click")

    expect(widget.locator(".cw-status")).to_have_text(HOLD_CLICK_HINT_FR)

    tab_to_text(page, CANNOT_HOLD_FR)
    page.keyboard.press("Enter")

    wait_for_step(widget, "wait")
    # The focused link went with the hold view, so the widget group has the focus.
    assert focus_path(page) == ["verification", "cw-widget"]
    started = WAIT_STARTED_FR[wording(log, "timing")].format(
        seconds=LEVEL_2_WAIT_MS // 1000
    )
    wait_started = f"{STEP_2_OF_2_FR} {started}"
    expect(widget.locator(".cw-status")).to_have_text(wait_started)
    wait_for_state(widget, "success", STEP_TIMEOUT_MS)

    replace = [r.post_data_json for r in requests if r.url.endswith("/replace")]

    assert [body["alternative"] for body in replace] == [{"kind": "timing", "mode": "wait"}]
    assert answer_bodies(requests)[-1]["answer"] == {}
    assert page.evaluate(WAITED_MS) >= LEVEL_2_WAIT_MS
    assert announcements(page)[-3:] == [wait_started, WAIT_DONE_FR, SUCCESS_FR]
    assert pointer_presses(page) == []
    assert_verifies(hold_service, token(page))


# Clocks.


@pytest.mark.parametrize("shift_ms", [TWO_HOURS_MS, -TWO_HOURS_MS], ids=["ahead", "behind"])
def test_shifted_clock_still_passes(
    hold_service, serve_pages, step_page, shift_ms
) -> None:
    page = step_page
    page.add_init_script(SHIFT_DATE_SCRIPT % shift_ms)
    widget = open_form(page, serve_pages(hold_service))
    page_clock_ms = page.evaluate("Date.now()")

    assert abs(page_clock_ms - time.time() * 1000 - shift_ms) < 60_000

    start_with_keyboard(page)
    wait_for_step(widget, "hold")
    tab_to(page, "cw-hold")
    hold_key_until_success(page, widget, "Space")

    assert_verifies(hold_service, token(page))


def test_fast_page_clock_waits_for_service(hold_service, serve_pages, step_page) -> None:
    """performance.now() runs twice as fast, so the wait ends early in the page.

    The service measures the wait on its own clock, answers too-early with the
    time left, and the widget sends the same answer again after that time.
    """
    page = step_page
    page.add_init_script(FAST_PERFORMANCE_SCRIPT)
    log = ChallengeLog(page)
    widget = open_form(page, serve_pages(hold_service))
    start_with_keyboard(page)
    wait_for_step(widget, "hold")
    tab_to_text(page, CANNOT_HOLD_FR)
    page.keyboard.press("Enter")
    wait_for_step(widget, "wait")
    wait_for_state(widget, "success", STEP_TIMEOUT_MS)
    answers = [(status, body) for path, status, body in log.bodies() if path.endswith("/answer")]

    assert [status for status, _ in answers] == [200, 422, 200]
    assert answers[1][1]["error"] == "too-early"
    assert answers[1][1]["retry_after_ms"] > 0
    assert answers[2][1]["result"] == "pass"
    assert_verifies(hold_service, token(page))


# The demo portal and risk tickets.


def test_demo_portal_booking_with_hold(hold_service, step_page) -> None:
    """The demo portal's back end verifies the token of a pow and hold flow."""
    page = step_page
    page.goto(hold_service.demo_url + "/demo/")
    fill_with_keyboard(page, "lundi-1800", "Camille Martin")
    widget = page.locator(".challenge-widget")
    wait_for_step(widget, "hold")
    tab_to(page, "cw-hold")
    hold_key_until_success(page, widget, "Space")

    for _ in range(4):
        page.keyboard.press("Tab")

        if page.evaluate("document.activeElement.type") == "submit":
            break

    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("Réservation confirmée")
    assert pointer_presses(page) == []
    assert page.evaluate("window.cspViolations") == []


def test_risk_ticket_attribute_raises_level(
    ticket_service, serve_pages, step_page
) -> None:
    page = step_page
    server = serve_pages(ticket_service)
    # The widget is in view at once on this page, so it starts without input.
    page.goto(f"{server.url}/ticket-attribute.html")
    wait_for_state(page.locator("#verification"), "success")

    assert ticket_service.verify(token(page))["kinds"] == ["pow"]

    ticket = ticket_service.risk_ticket(0.6)

    with page.expect_request("**/api/v1/challenges") as issued:
        page.goto(f"{server.url}/ticket-attribute.html?ticket={ticket}")

    assert issued.value.post_data_json["risk_ticket"] == ticket

    widget = page.locator("#verification")
    wait_for_step(widget, "hold")
    tab_to(page, "cw-hold")
    hold_key_until_success(page, widget, "Space")

    assert_verifies(ticket_service, token(page))


def test_risk_ticket_option_is_sent(ticket_service, serve_pages, step_page) -> None:
    page = step_page
    server = serve_pages(ticket_service)
    ticket = ticket_service.risk_ticket(0.6)

    with page.expect_request("**/api/v1/challenges") as issued:
        page.goto(f"{server.url}/ticket-option.html?ticket={ticket}")

    assert issued.value.post_data_json["risk_ticket"] == ticket
    wait_for_step(page.locator("#verification"), "hold")


# Wordings of the instructions.

#: Messages of i18n.js with one phrasing per wording index, by the service's
#: challenge kind whose ``wordings`` sets their number.
WORDED_MESSAGES = {
    "timing": ("holdHelp", "holdReady", "waitStarted", "waitHelp"),
    "image": ("imageShown", "imageHelp"),
}

#: The French phrasings that the step tests expect, by message.
EXPECTED_FR = {
    "holdHelp": HOLD_HELP_FR,
    "holdReady": HOLD_READY_FR,
    "waitStarted": WAIT_STARTED_FR,
    "imageShown": IMAGE_SHOWN_FR,
    "imageHelp": IMAGE_HELP_FR,
}

#: The English phrasings that the step tests expect, by message.
EXPECTED_EN = {"imageShown": IMAGE_SHOWN_EN, "imageHelp": IMAGE_HELP_EN}

#: Labels of buttons that every phrasing of a message names, by message.
NAMED_LABELS = {
    "holdHelp": ("holdButton", "cannotHold"),
    "holdReady": ("holdButton",),
    "imageShown": ("listen", "waitInstead"),
}

#: Quotation marks around a label that a message names, by language.
QUOTES = {"fr": ("«\u00a0", "\u00a0»"), "en": ("“", "”")}

#: Returns the widget's message catalogue, by language.
CATALOGUE = """() => {
  const internals = window.challengeWidgetInternals;
  return Object.fromEntries(
    internals.LANGUAGES.map((lang) => [lang, internals.messages(lang)]));
}"""

#: Returns the phrasing of holdReady in English for each wording index given.
PHRASINGS = """(indexes) => {
  const internals = window.challengeWidgetInternals;
  const messages = internals.messages('en');
  return indexes.map((index) => internals.phrasing(messages, 'holdReady', index));
}"""


def rewrite_hold_wording(page: Any, wording_index: dict[str, int]) -> None:
    """Give each hold step that reaches ``page`` the wording ``wording_index["value"]``.

    Only the response body changes; the signed envelope keeps the service's
    wording.
    """

    def rewrite(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        challenge = body.get("challenge") or {}

        if challenge.get("kind") == "timing" and challenge.get("mode") == "hold":
            challenge["wording"] = wording_index["value"]

        route.fulfill(response=response, json=body)

    page.route("**/api/v1/challenges/*/answer", rewrite)


def test_hold_help_follows_wording(hold_service, serve_pages, step_page) -> None:
    page = step_page
    server = serve_pages(hold_service)
    wording_index = {"value": 0}
    rewrite_hold_wording(page, wording_index)
    helps = []

    for index in range(challenges.get("timing").wordings):
        wording_index["value"] = index
        # Bodies of responses to an earlier page can no longer be read.
        log = ChallengeLog(page)
        widget = open_form(page, server)
        page.focus("#name")
        wait_for_step(widget, "hold")
        seconds = -(-hold_ms(log) // 1000)
        help_text = widget.locator(".cw-help").text_content()

        assert help_text == HOLD_HELP_FR[index].format(seconds=seconds)
        ready = HOLD_READY_FR[index].format(seconds=seconds)
        expect(widget.locator(".cw-status")).to_have_text(f"{STEP_2_OF_2_FR} {ready}")
        helps.append(help_text)

    assert len(set(helps)) == len(helps), helps


def test_phrasings_match_service_wordings(hold_service, serve_pages, step_page) -> None:
    page = step_page
    open_form(page, serve_pages(hold_service))
    catalogue = page.evaluate(CATALOGUE)
    worded_kinds = [
        name for name in challenges.names() if challenges.get(name).wordings
    ]

    assert sorted(WORDED_MESSAGES) == worded_kinds
    assert sorted(catalogue) == ["en", "fr"]

    for kind, names in WORDED_MESSAGES.items():
        for lang, messages in catalogue.items():
            for name in names:
                phrasings = messages[name]

                assert len(phrasings) == challenges.get(kind).wordings, (lang, name)
                assert len(set(phrasings)) == len(phrasings), (lang, name)

    for name, expected in EXPECTED_FR.items():
        assert tuple(catalogue["fr"][name]) == expected, name

    for name, expected in EXPECTED_EN.items():
        assert tuple(catalogue["en"][name]) == expected, name


def test_phrasings_name_button_labels(hold_service, serve_pages, step_page) -> None:
    page = step_page
    open_form(page, serve_pages(hold_service))
    catalogue = page.evaluate(CATALOGUE)

    for lang, messages in catalogue.items():
        opening, closing = QUOTES[lang]

        for name, labels in NAMED_LABELS.items():
            for phrasing in messages[name]:
                for label in labels:
                    assert f"{opening}{messages[label]}{closing}" in phrasing, (
                        lang,
                        name,
                        phrasing,
                    )


def test_phrasing_falls_back_to_first(hold_service, serve_pages, step_page) -> None:
    page = step_page
    open_form(page, serve_pages(hold_service))
    first, second, third = page.evaluate(CATALOGUE)["en"]["holdReady"]

    assert page.evaluate(PHRASINGS, [0, 1, 2]) == [first, second, third]
    # Missing, negative, fractional, past the end, and a string.
    assert page.evaluate(PHRASINGS, [None, -1, 1.5, 3, "1"]) == [first] * 5
