"""Accessibility of the demo portal: axe-core audits, reflow and focus."""

from __future__ import annotations

from typing import Any

import axe_playwright_python.sync_playwright as axe_playwright
from playwright.sync_api import expect

from .portal_steps import fill_with_keyboard
from .portal_steps import wait_for_success

#: WCAG 2.0, 2.1 and 2.2 levels A and AA, as axe-core tags them.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]

#: Narrowest viewport of WCAG 2.2 reflow (1.4.10), in CSS pixels.
REFLOW_WIDTH = 320


def audit(page: Any) -> list[dict[str, Any]]:
    """Run axe-core with the WCAG A and AA rules and return the violations."""
    options = {
        "runOnly": {"type": "tag", "values": WCAG_TAGS},
        "resultTypes": ["violations"],
    }
    results = axe_playwright.Axe().run(page, options=options)
    return results.response["violations"]


def describe(violations: list[dict[str, Any]]) -> str:
    """Return one line per violation and element, for assertion messages."""
    lines = []

    for violation in violations:
        for node in violation["nodes"]:
            lines.append(
                f"{violation['id']} ({violation['impact']}): {node['target']}"
                f" {node['failureSummary']}"
            )

    return "\n".join(lines)


def test_axe_before_and_after_success(demo_server, page) -> None:
    page.goto(demo_server.demo_url + "/demo/")
    page.locator(".challenge-widget .cw-title").wait_for()
    before = audit(page)

    assert before == [], describe(before)

    fill_with_keyboard(page, "mercredi-1215", "Jeanne Roux")
    wait_for_success(page)
    after = audit(page)

    assert after == [], describe(after)


def test_axe_english_page(demo_server, page) -> None:
    page.goto(demo_server.demo_url + "/demo/?lang=en")
    page.locator(".challenge-widget .cw-title").wait_for()
    violations = audit(page)

    assert violations == [], describe(violations)


def test_axe_error_summary(demo_server, page) -> None:
    page.goto(demo_server.demo_url + "/demo/")
    page.locator(".challenge-widget .cw-title").wait_for()
    page.locator("#name").focus()

    with page.expect_navigation():
        page.keyboard.press("Enter")

    summary = page.locator(".error-summary")
    first_open_slot = page.locator(
        "input[name='slot']:not(:disabled)"
    ).first.get_attribute("id")

    expect(summary).to_have_attribute("role", "alert")
    expect(summary.locator("a[href='#name']")).to_have_text(
        "Indiquez votre nom et prénom."
    )
    expect(summary.locator(f"a[href='#{first_open_slot}']")).to_have_text(
        "Choisissez un créneau."
    )
    expect(page.locator("#name")).to_have_attribute("aria-invalid", "true")
    expect(page).to_have_title(
        "Erreur : Réserver un cours d’Aquaforme – Piscine municipale — Aquaforme"
    )
    page.locator(".challenge-widget .cw-title").wait_for()
    violations = audit(page)

    assert violations == [], describe(violations)


def test_axe_confirmation_page(demo_server, page) -> None:
    page.goto(demo_server.demo_url + "/demo/")
    fill_with_keyboard(page, "lundi-1800", "Paul Lefèvre")
    wait_for_success(page)

    with page.expect_navigation():
        page.keyboard.press("Enter")

    expect(page.locator("h1")).to_have_text("Réservation confirmée")
    violations = audit(page)

    assert violations == [], describe(violations)


def test_axe_detects_violation(page) -> None:
    page.set_content(
        "<!doctype html><html lang='fr'><title>Test</title>"
        "<main><img src='data:,'><input type='text'></main></html>"
    )
    rules = {violation["id"] for violation in audit(page)}

    assert "image-alt" in rules
    assert "label" in rules


def test_reflow_at_320_pixels(demo_server, browser) -> None:
    context = browser.new_context(viewport={"width": REFLOW_WIDTH, "height": 640})

    try:
        page = context.new_page()
        page.goto(demo_server.demo_url + "/demo/")
        page.locator(".challenge-widget .cw-title").wait_for()
        widths = page.evaluate(
            "({scroll: document.documentElement.scrollWidth,"
            " client: document.documentElement.clientWidth})"
        )

        assert widths["scroll"] <= widths["client"]

        for selector in ("#name", ".challenge-widget", "button[type='submit']"):
            box = page.locator(selector).bounding_box()

            assert box is not None, selector
            assert box["x"] >= 0, selector
            assert box["x"] + box["width"] <= REFLOW_WIDTH, selector
    finally:
        context.close()


def test_focus_is_visible(demo_server, page) -> None:
    page.goto(demo_server.demo_url + "/demo/")
    page.keyboard.press("Tab")
    skip_link = page.locator(".skip-link")

    expect(skip_link).to_be_focused()
    expect(skip_link).to_be_in_viewport()

    outline = skip_link.evaluate("element => getComputedStyle(element).outlineStyle")

    assert outline == "solid"
