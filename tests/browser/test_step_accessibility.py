"""Accessibility of the widget's steps: axe-core, targets, focus, reflow, motion.

The axe-core audit runs the WCAG 2.0, 2.1 and 2.2 A and AA rules, as the
demo portal's audit does, on each state of a step: hold, wait, image, audio
playing and a wrong answer.
"""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from .step_pages import ChallengeLog
from .step_pages import focus_path
from .step_pages import IMAGE_HELP_EN
from .step_pages import IMAGE_HELP_FR
from .step_pages import IMAGE_SHOWN_EN
from .step_pages import open_form
from .step_pages import RECORDERS_SCRIPT
from .step_pages import STEP_CSP
from .step_pages import tab_to
from .step_pages import tab_to_text
from .step_pages import wait_for_step
from .step_pages import wording
from .test_accessibility import audit
from .test_accessibility import describe
from .widget_host import HostServer
from .widget_host import PAGES_DIR

#: Narrowest viewport of WCAG 2.2 reflow (1.4.10), in CSS pixels.
REFLOW_WIDTH = 320

#: Minimum target size of WCAG 2.2 (2.5.8), in CSS pixels.
MIN_TARGET_PX = 24

#: Time the reduced-motion test samples the bar of a hold, in ms; shorter than
#: any hold, which lasts at least 1500 ms (challenges/timing.py).
SAMPLE_MS = 1200

#: Bar values that a hold shows under reduced motion: whole quarters.
QUARTERS = {0, 25, 50, 75, 100}

CANNOT_HOLD_FR = "Je ne peux pas maintenir une touche"
WRONG_TWO_LEFT_FR = "Réponse incorrecte. Il vous reste 2\u00a0essais."

#: Returns the size of every visible button and field of the widget's stage.
TARGET_SIZES = """(host) => Array.from(
  host.shadowRoot.querySelectorAll('.cw-stage button, .cw-stage input')
).filter((node) => node.getClientRects().length > 0).map((node) => {
  const box = node.getBoundingClientRect();
  return {name: node.textContent || node.id, width: box.width, height: box.height};
})"""

#: Samples the hold's bar on every frame for `ms` and reports the values, the
#: animations running in the widget and the transitions that CSS sets.
SAMPLE_HOLD = """async ([host, ms]) => {
  const root = host.shadowRoot;
  const progress = root.querySelector('.cw-progress');
  const button = root.querySelector('.cw-hold');
  const values = new Set();
  let animations = 0;
  const end = performance.now() + ms;
  while (performance.now() < end) {
    values.add(progress.value);
    animations = Math.max(animations, root.getAnimations().length);
    await new Promise((resolve) => requestAnimationFrame(resolve));
  }
  return {
    values: Array.from(values),
    animations,
    buttonTransition: getComputedStyle(button).transitionDuration,
    progressTransition: getComputedStyle(progress).transitionDuration,
    progressAnimation: getComputedStyle(progress).animationName,
  };
}"""


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


def new_page(browser: Any, **options: Any) -> tuple[Any, Any]:
    context = browser.new_context(**options)
    context.add_init_script(RECORDERS_SCRIPT)
    return context, context.new_page()


def reach_step(page: Any, server: HostServer, name: str) -> Any:
    widget = open_form(page, server)
    page.locator("#name").focus()
    wait_for_step(widget, name)
    return widget


def assert_no_violations(page: Any, state: str) -> None:
    violations = audit(page)

    assert violations == [], f"{state}:\n{describe(violations)}"


def assert_targets(widget: Any, state: str) -> None:
    sizes = widget.evaluate(TARGET_SIZES)

    assert sizes, state

    for size in sizes:
        assert size["width"] >= MIN_TARGET_PX, (state, size)
        assert size["height"] >= MIN_TARGET_PX, (state, size)


def assert_focus_visible(page: Any, state: str) -> None:
    outline = page.evaluate(
        "() => { const inner = document.activeElement.shadowRoot.activeElement;"
        " const style = getComputedStyle(inner);"
        " return [style.outlineStyle, parseFloat(style.outlineWidth)]; }"
    )

    assert outline[0] == "solid", state
    assert outline[1] >= 2, state


def test_axe_timing_states(hold_service, serve_pages, browser) -> None:
    context, page = new_page(browser)

    try:
        widget = reach_step(page, serve_pages(hold_service), "hold")
        assert_no_violations(page, "hold")
        assert_targets(widget, "hold")
        tab_to(page, "cw-hold")
        assert_focus_visible(page, "hold")
        tab_to_text(page, CANNOT_HOLD_FR)
        assert_focus_visible(page, "cannot hold")
        page.keyboard.press("Enter")
        wait_for_step(widget, "wait")
        assert_no_violations(page, "wait")
    finally:
        context.close()


def test_axe_image_states(image_service, serve_pages, browser) -> None:
    context, page = new_page(browser)

    try:
        log = ChallengeLog(page)
        widget = reach_step(page, serve_pages(image_service), "image")
        page.wait_for_function(
            "(host) => host.shadowRoot.querySelector('.cw-image').complete",
            arg=widget.element_handle(),
        )
        assert_no_violations(page, "image")
        assert_targets(widget, "image")
        tab_to(page, "cw-input")
        assert_focus_visible(page, "answer field")

        page.keyboard.press("Alt+KeyP")
        page.wait_for_function(
            "(host) => { const audio = host.shadowRoot.querySelector('audio');"
            " return Number.isFinite(audio.duration) && !audio.paused; }",
            arg=widget.element_handle(),
        )
        assert_no_violations(page, "audio playing")
        assert_targets(widget, "audio playing")

        page.keyboard.type("ZZZZ")

        with page.expect_response("**/answer"):
            page.keyboard.press("Enter")

        expect(widget.locator(".cw-field-error")).to_have_text(WRONG_TWO_LEFT_FR)
        expect(widget.locator(".cw-input")).to_have_accessible_description(
            f"{IMAGE_HELP_FR[wording(log, 'image')]} {WRONG_TWO_LEFT_FR}"
        )
        assert_no_violations(page, "wrong answer")
    finally:
        context.close()


def test_english_image_step(image_service, serve_pages, browser) -> None:
    context, page = new_page(browser)

    try:
        log = ChallengeLog(page)
        page.goto(serve_pages(image_service).url + "/form-en.html")
        widget = page.locator("#verification")
        wait_for_step(widget, "image")
        challenge = log.latest("image")["challenge"]

        expect(widget.locator(".cw-widget")).to_have_attribute("lang", "en")
        expect(widget.locator(".cw-status")).to_have_text(
            f"Step 2 of 2. {IMAGE_SHOWN_EN[challenge['wording']]}"
        )
        expect(widget.locator(".cw-image")).to_have_attribute("alt", challenge["alt"]["en"])
        expect(widget.locator(".cw-label")).to_have_text(challenge["prompt"]["en"])
        expect(widget.locator(".cw-submit")).to_have_text("Submit")

        for name in ("New image", "Listen", "Wait instead"):
            expect(widget.get_by_role("button", name=name)).to_be_visible()

        # Replay shows only once a clip has loaded.
        expect(widget.get_by_role("button", name="Replay from the start")).to_be_hidden()
        expect(widget.locator(".cw-help")).to_have_text(
            IMAGE_HELP_EN[challenge["wording"]]
        )
        assert_no_violations(page, "English image")

        tab_to(page, "cw-input")
        page.keyboard.press("Alt+KeyP")
        page.wait_for_function(
            "(host) => Number.isFinite(host.shadowRoot.querySelector('audio').duration)",
            arg=widget.element_handle(),
        )
        source = widget.evaluate("(host) => host.shadowRoot.querySelector('audio').currentSrc")

        assert source.endswith("&lang=en")
        expect(widget.get_by_role("button", name="Pause")).to_be_visible()
        expect(widget.get_by_role("button", name="Replay from the start")).to_be_visible()
    finally:
        context.close()


def test_image_step_reflows(image_service, serve_pages, browser) -> None:
    context, page = new_page(browser, viewport={"width": REFLOW_WIDTH, "height": 640})

    try:
        widget = reach_step(page, serve_pages(image_service), "image")
        widths = page.evaluate(
            "({scroll: document.documentElement.scrollWidth,"
            " client: document.documentElement.clientWidth})"
        )

        assert widths["scroll"] <= widths["client"]

        for selector in (".cw-image", ".cw-input", ".cw-submit", ".cw-actions"):
            box = widget.locator(selector).bounding_box()

            assert box is not None, selector
            assert box["x"] >= 0, selector
            assert box["x"] + box["width"] <= REFLOW_WIDTH, selector
    finally:
        context.close()


@pytest.mark.parametrize("motion", ["reduce", "no-preference"])
def test_hold_progress_motion(hold_service, serve_pages, browser, motion) -> None:
    """Under reduced motion nothing animates and the bar moves by quarters."""
    context, page = new_page(browser, reduced_motion=motion)

    try:
        log = ChallengeLog(page)
        widget = reach_step(page, serve_pages(hold_service), "hold")

        assert log.latest("timing")["challenge"]["hold_ms"] > SAMPLE_MS

        tab_to(page, "cw-hold")
        page.keyboard.down("Space")
        sample = page.evaluate(SAMPLE_HOLD, [widget.element_handle(), SAMPLE_MS])
        page.keyboard.up("Space")
        values = set(sample["values"])

        assert focus_path(page)[1] == "cw-hold"
        assert sample["progressTransition"] == "0s"
        assert sample["progressAnimation"] == "none"

        if motion == "reduce":
            assert values <= QUARTERS, sorted(values)
            assert sample["animations"] == 0
            assert sample["buttonTransition"] == "0s"
        else:
            assert values - QUARTERS, "the bar moved by quarters without reduced motion"
            assert sample["buttonTransition"] != "0s"
    finally:
        context.close()
