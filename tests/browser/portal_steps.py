"""Steps that a person takes on the demo booking page, for the browser tests."""

from __future__ import annotations

from typing import Any

#: Maximum wait for the widget to solve its proof of work, in milliseconds.
SOLVE_TIMEOUT_MS = 15_000

#: Maximum Tab presses needed to reach any control of the booking form.
MAX_TABS = 20

WIDGET = ".challenge-widget"
TOKEN_FIELD = "input[name='challenge-response']"
DUPLICATE_FR = "Cette vérification a déjà servi."


def focused_element(page: Any) -> dict[str, str]:
    """Return the id and name of the element that has the focus."""
    return page.evaluate(
        "({id: document.activeElement.id, name: document.activeElement.name})"
    )


def press_until(page: Any, key: str, attribute: str, value: str) -> None:
    """Press ``key`` until the focused element's ``attribute`` equals ``value``."""
    for _ in range(MAX_TABS):
        page.keyboard.press(key)

        if focused_element(page)[attribute] == value:
            return

    raise AssertionError(f"no {attribute}={value!r} after {MAX_TABS} {key} presses")


def fill_with_keyboard(page: Any, slot_id: str, name: str) -> None:
    """Choose a slot and type a name with the keyboard only, with no mouse event.

    A radio group is one Tab stop, so Tab reaches its first radio and the
    arrow keys move to the others, as for a person using a keyboard.
    """
    press_until(page, "Tab", "name", "slot")

    if focused_element(page)["id"] != f"slot-{slot_id}":
        press_until(page, "ArrowDown", "id", f"slot-{slot_id}")

    page.keyboard.press("Space")
    press_until(page, "Tab", "id", "name")
    page.keyboard.type(name)


def wait_for_success(page: Any) -> str:
    """Wait for the widget's success state and return the pass token."""
    page.wait_for_selector(f"{WIDGET}[data-state='success']", timeout=SOLVE_TIMEOUT_MS)
    return page.locator(TOKEN_FIELD).input_value()
