"""Booking through the demo portal in Chromium, with the real widget and service."""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import expect
from .portal_steps import fill_with_keyboard
from .portal_steps import DUPLICATE_FR
from .portal_steps import wait_for_success
from .portal_steps import WIDGET


def csp_violations(page: Any) -> list[dict[str, Any]]:
    """Return the CSP violations that the current document recorded."""
    return page.evaluate("window.cspViolations")


def test_keyboard_booking_confirmed(demo_server, page, page_events) -> None:
    page.goto(demo_server.demo_url + "/demo/")
    fill_with_keyboard(page, "lundi-1800", "Camille Martin")
    token = wait_for_success(page)

    assert token
    expect(page.locator("#slot-lundi-1800")).to_be_checked()

    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("Réservation confirmée")
    expect(page.locator("#confirmation")).to_contain_text("Camille Martin")
    expect(page.locator("#confirmation")).to_contain_text("Lundi, 18 h 00")
    expect(page.locator(".reference")).to_have_text(re.compile(r"^AQ-[0-9A-F]{6}$"))
    assert page_events.console_errors() == []
    assert page_events.page_errors == []


def test_spent_token_rejected_as_duplicate(demo_server, page) -> None:
    page.goto(demo_server.demo_url + "/demo/")
    fill_with_keyboard(page, "lundi-1800", "Louis Bernard")
    token = wait_for_success(page)

    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("Réservation confirmée")

    replay = page.request.post(
        demo_server.demo_url + "/demo/book",
        form={
            "name": "Louis Bernard",
            "slot": "lundi-1800",
            "challenge-response": token,
        },
    )

    assert replay.status == 400
    assert DUPLICATE_FR in replay.text()
    assert "Réservation confirmée" not in replay.text()


def test_flow_has_no_csp_violation(demo_server, page, page_events) -> None:
    page.goto(demo_server.demo_url + "/demo/")
    fill_with_keyboard(page, "mercredi-1215", "Inès Petit")
    wait_for_success(page)

    # blob-worker is the solver that a cross-origin widget uses when the
    # page's worker-src allows it; a CSP block would fall back to main-thread.
    expect(page.locator(WIDGET)).to_have_attribute("data-solver-used", "blob-worker")
    # captcha.css sets display: flex, so this shows that its styles applied.
    expect(page.locator(f"{WIDGET} .cw-widget")).to_have_css("display", "flex")
    assert csp_violations(page) == []

    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("Réservation confirmée")
    assert csp_violations(page) == []
    assert page_events.console_errors() == []
    assert page_events.page_errors == []


def test_csp_listener_sees_inline_script(demo_server, page, page_events) -> None:
    page.goto(demo_server.demo_url + "/demo/")
    page.evaluate(
        """() => {
            const script = document.createElement('script');
            script.textContent = 'window.inlineRan = true';
            document.body.append(script);
        }"""
    )
    page.wait_for_timeout(100)
    violations = csp_violations(page)

    assert page.evaluate("window.inlineRan === undefined")
    assert [v["directive"] for v in violations] == ["script-src-elem"]
    assert any("Content Security Policy" in e for e in page_events.console_errors())


def test_english_page_has_english_widget(demo_server, page) -> None:
    page.goto(demo_server.demo_url + "/demo/?lang=en")
    widget = page.locator(WIDGET)
    widget.locator(".cw-title").wait_for()

    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.locator("h1")).to_have_text("Book an Aquaforme class")
    expect(widget).to_have_attribute("data-lang", "en")
    expect(widget.locator(".cw-title")).to_have_text("Human check")
    expect(widget).not_to_contain_text("Vérification")
    expect(page.locator("button[type='submit']")).to_have_text("Book")

    link = page.get_by_role("link", name="Français")

    expect(link).to_have_attribute("lang", "fr")
    expect(link).to_have_attribute("href", "/demo/")


def test_french_page_has_french_widget(demo_server, page) -> None:
    page.goto(demo_server.demo_url + "/demo/")
    widget = page.locator(WIDGET)
    widget.locator(".cw-title").wait_for()

    expect(page.locator("html")).to_have_attribute("lang", "fr")
    expect(widget.locator(".cw-title")).to_have_text("Vérification anti-robot")
    expect(page.get_by_role("link", name="English")).to_have_attribute(
        "href", "/demo/?lang=en"
    )


def test_noscript_alternative_without_javascript(demo_server, browser) -> None:
    context = browser.new_context(java_script_enabled=False)

    try:
        page = context.new_page()
        page.goto(demo_server.demo_url + "/demo/")
        notice = page.locator("#without-javascript")

        expect(notice).to_be_visible()
        expect(notice).to_contain_text("JavaScript est désactivé")
        expect(notice).to_contain_text("01 99 00 12 34")
        expect(notice).to_contain_text("accueil de la piscine")
        expect(page.locator(WIDGET)).not_to_have_attribute(
            "data-state", re.compile(".")
        )
    finally:
        context.close()


def test_noscript_hidden_with_javascript(demo_server, page) -> None:
    page.goto(demo_server.demo_url + "/demo/")
    page.locator(f"{WIDGET}[data-state]").wait_for()

    expect(page.locator("#without-javascript")).to_have_count(0)
    expect(page.get_by_text("JavaScript est désactivé")).not_to_be_visible()
