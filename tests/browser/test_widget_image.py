"""Image and audio steps of the widget, with the keyboard only, in Chromium.

The site's policy pins every visitor to level 3 (a proof of work, then an
image; ``image_service`` in conftest.py) or level 4 (the same, then a short
wait). The test computes the
answer that the image or the audio clip shows from the service's signing
key, as a person would read or hear it, and types it.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from .escalation import audio_answer
from .escalation import image_answer
from .escalation import pinned_policy
from .escalation import policy_service
from .escalation import PolicyService
from .step_pages import announcements
from .step_pages import ChallengeLog
from .step_pages import focus_path
from .step_pages import IMAGE_HELP_FR
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
from .widget_host import PORTAL_CSP

#: Widget text, from widgets/captcha/i18n.js.
#: The status region joins the step, the notice and the instructions with spaces.
STEP_FR = "Étape {step} sur {steps}."
NEW_IMAGE_FR = "Nouvelle image"
NEW_IMAGE_SHOWN_FR = "Nouvelle image affichée."
LISTEN_FR = "Écouter"
PAUSE_FR = "Mettre en pause"
REPLAY_FR = "Réécouter depuis le début"
WRONG_TWO_LEFT_FR = "Réponse incorrecte. Il vous reste 2\u00a0essais."
WRONG_ONE_LEFT_FR = "Réponse incorrecte. Il vous reste 1\u00a0essai."
EMPTY_ANSWER_FR = "Saisissez votre réponse avant de valider."
OUT_OF_ATTEMPTS_FR = "Réponse incorrecte, et il ne reste plus d’essai."
IMAGE_FAILED_FR = (
    "L’image n’a pas pu être chargée. Choisissez «\u00a0Écouter\u00a0» ou"
    " «\u00a0Attendre à la place\u00a0»."
)

#: Wait that replaces an image step at level 3 once no attempt is left, in ms
#: (challenges/timing.py).
LEVEL_3_WAIT_MS = 8000

#: Extra wait per level past the proof of work on the three-step site, in ms.
#: Level 4 then ends with a wait of 4 x 250 ms.
WAIT_PER_LEVEL_MS = 250

#: Maximum wait for a step's answer, or for a wait step to end, in ms.
STEP_TIMEOUT_MS = LEVEL_3_WAIT_MS + 10_000

#: Reads the widget's <audio> element.
AUDIO_STATE = """(host) => {
  const audio = host.shadowRoot.querySelector('audio');
  return {
    src: audio.currentSrc || audio.src,
    preload: audio.getAttribute('preload'),
    autoplay: audio.autoplay,
    controls: audio.controls,
    paused: audio.paused,
    duration: audio.duration,
    currentTime: audio.currentTime,
  };
}"""

#: Waits until the widget's audio clip has loaded its length and plays.
AUDIO_PLAYING = """(host) => {
  const audio = host.shadowRoot.querySelector('audio');
  return audio && Number.isFinite(audio.duration) && audio.duration > 0 && !audio.paused;
}"""


@pytest.fixture(scope="module")
def three_step_service(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[PolicyService]:
    """A service whose site asks for a proof of work, an image, then a 1 s wait."""
    policy = pinned_policy(4, wait_per_level_ms=WAIT_PER_LEVEL_MS)
    with policy_service(tmp_path_factory.mktemp("three") / "data", policy) as service:
        yield service


@pytest.fixture
def serve_pages() -> Iterator[Callable[..., HostServer]]:
    servers: list[HostServer] = []

    def start(service: Any, csp: str = STEP_CSP) -> HostServer:
        server = HostServer(service, csp, {"/": PAGES_DIR})
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


def reach_image(page: Any, server: HostServer) -> Any:
    """Open the form, start the check with the keyboard and wait for the image."""
    widget = open_form(page, server)
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")

    assert focus_path(page)[0] == "name"

    page.keyboard.type("Camille Martin")
    wait_for_step(widget, "image")
    return widget


def image_loaded(widget: Any) -> bool:
    return widget.locator(".cw-image").evaluate(
        "image => image.complete && image.naturalWidth > 0"
    )


def field_state(widget: Any) -> dict[str, Any]:
    return widget.locator(".cw-input").evaluate(
        """input => ({
            value: input.value,
            start: input.selectionStart,
            end: input.selectionEnd,
            invalid: input.getAttribute('aria-invalid'),
        })"""
    )


def test_image_with_keyboard_only(image_service, serve_pages, step_page, page_events) -> None:
    page = step_page
    log = ChallengeLog(page)
    widget = reach_image(page, serve_pages(image_service))
    issued = log.latest("image")
    challenge = issued["challenge"]
    help_text = IMAGE_HELP_FR[challenge["wording"]]
    instructions = IMAGE_SHOWN_FR[challenge["wording"]]

    expect(widget.locator(".cw-status")).to_have_text(
        f"{STEP_FR.format(step=2, steps=2)} {instructions}"
    )
    expect(widget.locator(".cw-image")).to_have_attribute("alt", challenge["alt"]["fr"])
    expect(widget.locator(".cw-label")).to_have_text(challenge["prompt"]["fr"])
    expect(widget.locator(".cw-help")).to_have_text(help_text)
    field = widget.locator(".cw-input")
    expect(field).to_have_attribute("autocapitalize", "off")
    expect(field).to_have_attribute("spellcheck", "false")
    expect(field).not_to_have_attribute("autocomplete", "off")
    expect(field).to_have_accessible_description(help_text)
    page.wait_for_function("(image) => image.complete", arg=widget.locator(".cw-image").element_handle())

    assert image_loaded(widget)

    # A new image, asked for from its button, comes in place: the focus stays there.
    tab_to_text(page, NEW_IMAGE_FR)

    with page.expect_response("**/replace"):
        page.keyboard.press("Enter")

    expect(widget.locator(".cw-status")).to_have_text(NEW_IMAGE_SHOWN_FR)
    assert page.evaluate(
        "() => document.activeElement.shadowRoot.activeElement.textContent"
    ) == NEW_IMAGE_FR
    replaced = log.latest("image")

    assert replaced["challenge_id"] != issued["challenge_id"]
    expect(widget.locator(".cw-image")).to_have_attribute(
        "src", image_service.url + replaced["challenge"]["image_url"]
    )

    tab_to(page, "cw-input", key="Shift+Tab")
    page.keyboard.type(image_answer(replaced))
    page.keyboard.press("Enter")
    wait_for_state(widget, "success")
    result = image_service.verify(token(page))

    assert result["success"] is True, result
    assert result["kinds"] == ["pow", "image"]
    assert result["level"] == 3
    assert pointer_presses(page) == []
    # Enter in the answer field never submitted the portal's form.
    assert page.evaluate("window.widgetHost.submissions") == []
    assert page.evaluate("window.cspViolations") == []
    assert page_events.console_errors() == []
    assert page_events.page_errors == []


def test_audio_with_keyboard_only(
    three_step_service, serve_pages, step_page, page_events
) -> None:
    page = step_page
    log = ChallengeLog(page)
    widget = reach_image(page, serve_pages(three_step_service))
    instructions = IMAGE_SHOWN_FR[wording(log, "image")]
    expect(widget.locator(".cw-status")).to_have_text(
        f"{STEP_FR.format(step=2, steps=3)} {instructions}"
    )
    tab_to(page, "cw-input")
    host = widget.element_handle()

    # Nothing loads before the person asks for the audio.
    assert widget.evaluate(AUDIO_STATE)["src"] == ""

    page.keyboard.press("Alt+KeyP")
    page.wait_for_function(AUDIO_PLAYING, arg=host)
    audio = widget.evaluate(AUDIO_STATE)

    assert audio["src"].endswith("&lang=fr")
    assert audio["preload"] == "none"
    assert audio["autoplay"] is False
    assert audio["controls"] is False
    assert audio["duration"] > 1
    assert focus_path(page) == ["verification", "cw-input"]

    listen = widget.locator(".cw-actions .cw-secondary").nth(1)
    expect(listen).to_have_text(PAUSE_FR)
    page.keyboard.press("Alt+KeyP")
    expect(listen).to_have_text(LISTEN_FR)

    assert widget.evaluate(AUDIO_STATE)["paused"] is True

    tab_to_text(page, REPLAY_FR)
    page.keyboard.press("Enter")
    page.wait_for_function(AUDIO_PLAYING, arg=host)

    assert widget.evaluate(AUDIO_STATE)["currentTime"] < audio["duration"]

    tab_to(page, "cw-input", key="Shift+Tab")
    page.keyboard.type(audio_answer(log.latest("image"), "fr"))
    page.keyboard.press("Enter")
    wait_for_step(widget, "wait")

    started = WAIT_STARTED_FR[wording(log, "timing")].format(seconds=1)
    expect(widget.locator(".cw-status")).to_have_text(
        f"{STEP_FR.format(step=3, steps=3)} {started}"
    )
    # The audio stopped with the image step, and the group took the focus.
    assert focus_path(page) == ["verification", "cw-widget"]
    assert widget.locator("audio").count() == 0

    wait_for_state(widget, "success")
    result = three_step_service.verify(token(page))

    assert result["success"] is True, result
    assert result["kinds"] == ["pow", "image", "timing"]
    assert result["level"] == 4
    assert pointer_presses(page) == []
    assert page.evaluate("window.cspViolations") == []
    assert page_events.console_errors() == []


def test_wrong_answers_move_to_wait(image_service, serve_pages, step_page) -> None:
    page = step_page
    log = ChallengeLog(page)
    widget = reach_image(page, serve_pages(image_service))
    tab_to(page, "cw-input")
    message = widget.locator(".cw-field-error")

    page.keyboard.press("Enter")
    expect(message).to_have_text(EMPTY_ANSWER_FR)

    # Wrong answers only use characters that no answer contains.
    page.keyboard.type("ZZZZZ")

    with page.expect_response("**/answer"):
        page.keyboard.press("Enter")

    expect(message).to_have_text(WRONG_TWO_LEFT_FR)
    assert announcements(page)[-1] == WRONG_TWO_LEFT_FR
    assert focus_path(page) == ["verification", "cw-input"]
    assert field_state(widget) == {"value": "ZZZZZ", "start": 0, "end": 5, "invalid": "true"}

    # Typing replaces the selected wrong answer.
    page.keyboard.type("QQQ")

    assert field_state(widget)["value"] == "QQQ"

    with page.expect_response("**/answer"):
        page.keyboard.press("Enter")

    expect(message).to_have_text(WRONG_ONE_LEFT_FR)
    assert announcements(page)[-1] == WRONG_ONE_LEFT_FR
    assert focus_path(page) == ["verification", "cw-input"]

    page.keyboard.type("OOO")
    page.keyboard.press("Enter")
    wait_for_step(widget, "wait")

    started = WAIT_STARTED_FR[wording(log, "timing")].format(
        seconds=LEVEL_3_WAIT_MS // 1000
    )
    expect(widget.locator(".cw-status")).to_have_text(
        f"{STEP_FR.format(step=2, steps=2)} {OUT_OF_ATTEMPTS_FR} {started}"
    )
    assert focus_path(page) == ["verification", "cw-widget"]

    wait_for_state(widget, "success", STEP_TIMEOUT_MS)
    statuses = [status for path, status, _ in log.bodies() if path.endswith("/answer")]
    result = image_service.verify(token(page))

    assert statuses == [200, 422, 422, 422, 200]
    assert result["success"] is True, result
    assert result["kinds"] == ["pow", "timing"]
    assert pointer_presses(page) == []


def test_blocked_image_offers_alternatives(image_service, serve_pages, step_page) -> None:
    """The portal's CSP has no img-src for the service, so the image cannot load."""
    page = step_page
    widget = reach_image(page, serve_pages(image_service, PORTAL_CSP))

    expect(widget.locator(".cw-field-error")).to_have_text(IMAGE_FAILED_FR)
    assert IMAGE_FAILED_FR in announcements(page)
    assert not image_loaded(widget)

    tab_to_text(page, "Attendre à la place")
    page.keyboard.press("Enter")
    wait_for_step(widget, "wait")
