"""Helpers of the tests of the widget's steps: hold, wait, image and audio.

The host pages are those of ``widget_host.py``. Their CSP here also allows
images and audio from the service, which the image step needs.
"""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

#: CSP of a portal whose site may ask for image challenges.
STEP_CSP = (
    "default-src 'self'; script-src 'self' $service; connect-src $service;"
    " worker-src blob:; img-src 'self' data: $service; media-src $service"
)

WIDGET = "#verification"
TOKEN_FIELD = "input[name='challenge-response']"

#: Maximum wait for a state that follows a proof of work or a request, in ms.
STATE_TIMEOUT_MS = 15_000

#: Maximum Tab presses from the name field to a control of the widget.
MAX_TABS = 12

#: Instructions of the steps, one phrasing per wording index, from
#: widgets/captcha/i18n.js. The widget fills in ``{seconds}``.
HOLD_HELP_FR = (
    "Maintenez le bouton «\u00a0Maintenir appuyé\u00a0» enfoncé jusqu’à ce que la"
    " barre soit pleine, environ {seconds}\u00a0s, avec la souris, le doigt, ou la"
    " touche Espace ou Entrée. Si vous ne pouvez pas, choisissez «\u00a0Je ne peux"
    " pas maintenir une touche\u00a0».",
    "Si vous ne pouvez pas maintenir un bouton, choisissez «\u00a0Je ne peux pas"
    " maintenir une touche\u00a0». Sinon, appuyez sur le bouton «\u00a0Maintenir"
    " appuyé\u00a0» avec la souris, le doigt, ou la touche Espace ou Entrée, et"
    " gardez-le enfoncé environ {seconds}\u00a0s, jusqu’à ce que la barre soit"
    " pleine.",
    "Avec la souris, le doigt, ou la touche Espace ou Entrée, gardez le bouton"
    " «\u00a0Maintenir appuyé\u00a0» enfoncé environ {seconds}\u00a0s, jusqu’à ce"
    " que la barre soit pleine. «\u00a0Je ne peux pas maintenir une touche\u00a0»"
    " remplace ce geste par une attente.",
)
HOLD_READY_FR = (
    "Maintenez le bouton «\u00a0Maintenir appuyé\u00a0» enfoncé pendant environ"
    " {seconds}\u00a0s.",
    "Appuyez sur le bouton «\u00a0Maintenir appuyé\u00a0» et gardez-le enfoncé"
    " environ {seconds}\u00a0s.",
    "Pendant environ {seconds}\u00a0s, gardez le bouton «\u00a0Maintenir"
    " appuyé\u00a0» enfoncé.",
)
WAIT_STARTED_FR = (
    "Patientez {seconds}\u00a0s, sans rien faire\u00a0: la vérification se termine"
    " toute seule.",
    "Vous n’avez rien à faire. La vérification se termine toute seule dans"
    " {seconds}\u00a0s.",
    "La vérification se termine toute seule. Attendez {seconds}\u00a0s, sans rien"
    " faire.",
)
IMAGE_SHOWN_FR = (
    "Lisez l’image et répondez dans le champ, ou choisissez «\u00a0Écouter\u00a0»"
    " ou «\u00a0Attendre à la place\u00a0».",
    "Choisissez «\u00a0Écouter\u00a0» pour entendre la version audio, ou"
    " «\u00a0Attendre à la place\u00a0». Sinon, lisez l’image et répondez dans le"
    " champ.",
    "Saisissez dans le champ ce que montre l’image. Vous pouvez aussi choisir"
    " «\u00a0Attendre à la place\u00a0» ou «\u00a0Écouter\u00a0».",
)
IMAGE_SHOWN_EN = (
    "Read the image and answer in the field, or choose “Listen” or “Wait instead”.",
    "Choose “Listen” to hear the audio version, or “Wait instead”. Otherwise, read"
    " the image and answer in the field.",
    "Type what the image shows in the field. You can also choose “Wait instead” or"
    " “Listen”.",
)
IMAGE_HELP_FR = (
    "Raccourci\u00a0: Alt+P lance ou met en pause la version audio.",
    "Alt+P lance ou met en pause la version audio.",
    "Pour lancer ou mettre en pause la version audio, appuyez sur Alt+P.",
)
IMAGE_HELP_EN = (
    "Shortcut: Alt+P plays or pauses the audio version.",
    "Alt+P plays or pauses the audio version.",
    "To play or pause the audio version, press Alt+P.",
)

#: Records what the widget's status region says, once per change, in
#: window.announcements, and every pointer or mouse press in
#: window.pointerPresses. The status element is found once the widget
#: renders: its host gets data-state then.
RECORDERS_SCRIPT = """
window.announcements = [];
window.pointerPresses = [];
['pointerdown', 'mousedown', 'touchstart'].forEach((type) => {
  window.addEventListener(type, (event) => {
    window.pointerPresses.push(type);
  }, true);
});
const watched = new WeakSet();
new MutationObserver(() => {
  document.querySelectorAll('[data-state]').forEach((host) => {
    const status = host.shadowRoot && host.shadowRoot.querySelector('.cw-status');
    if (!status || watched.has(status)) return;
    watched.add(status);
    new MutationObserver(() => {
      const text = status.textContent;
      const last = window.announcements[window.announcements.length - 1];
      if (text && text !== last) window.announcements.push(text);
    }).observe(status, {childList: true, characterData: true, subtree: true});
  });
}).observe(document, {subtree: true, attributes: true, attributeFilter: ['data-state']});
"""

#: Returns the id of the focused element of the page and the class of the
#: element focused inside its shadow root.
FOCUS_PATH = """() => {
  const outer = document.activeElement;
  const inner = outer && outer.shadowRoot ? outer.shadowRoot.activeElement : null;
  return [outer ? outer.id : null, inner ? inner.className : null];
}"""


class ChallengeLog:
    """The challenges that the service issued to a page, in order.

    It records responses of the challenge endpoints as they arrive and reads
    their bodies only when asked, outside Playwright's event handler.
    """

    def __init__(self, page: Any) -> None:
        self._responses: list[Any] = []
        page.on("response", self._record)

    def _record(self, response: Any) -> None:
        if "/api/v1/challenges" in response.url and response.request.method == "POST":
            self._responses.append(response)

    def bodies(self) -> list[tuple[str, int, dict[str, Any]]]:
        """Return the path, status and JSON body of every response so far."""
        result = []

        for response in self._responses:
            path = response.url.split("/api/v1/challenges", 1)[1]
            result.append((path, response.status, response.json()))

        return result

    def issued(self) -> list[dict[str, Any]]:
        """Return every challenge issued so far, in the shape of the 201 response."""
        challenges = []

        for _, _, body in self.bodies():
            if "challenge" in body and "envelope" in body:
                challenges.append(body)
            elif isinstance(body.get("next"), dict):
                challenges.append(body["next"])

        return challenges

    def latest(self, kind: str) -> dict[str, Any]:
        """Return the last challenge issued of ``kind``."""
        matching = [item for item in self.issued() if item["challenge"]["kind"] == kind]

        assert matching, f"no {kind} challenge in {[i['challenge'] for i in self.issued()]}"
        return matching[-1]


def open_form(page: Any, server: Any, name: str = "form.html") -> Any:
    """Open a host page and return the widget's host locator once it renders."""
    page.goto(f"{server.url}/{name}")
    widget = page.locator(WIDGET)
    expect(widget).to_have_attribute("data-state", "idle", timeout=STATE_TIMEOUT_MS)
    return widget


def focus_path(page: Any) -> list[str | None]:
    return page.evaluate(FOCUS_PATH)


def tab_to(page: Any, class_name: str, key: str = "Tab") -> None:
    """Press Tab (or ``key``) until the widget control with ``class_name`` has the focus."""
    for _ in range(MAX_TABS):
        page.keyboard.press(key)
        inner = focus_path(page)[1] or ""

        if class_name in inner.split():
            return

    raise AssertionError(f"no .{class_name} focused after {MAX_TABS} {key} presses")


def tab_to_text(page: Any, text: str, key: str = "Tab") -> None:
    """Press Tab until the focused widget control's text is ``text``."""
    for _ in range(MAX_TABS):
        page.keyboard.press(key)
        focused = page.evaluate(
            "() => { const host = document.activeElement;"
            " const inner = host && host.shadowRoot && host.shadowRoot.activeElement;"
            " return inner ? inner.textContent : null; }"
        )

        if focused == text:
            return

    raise AssertionError(f"no control {text!r} focused after {MAX_TABS} {key} presses")


def wait_for_state(widget: Any, state: str, timeout: int = STATE_TIMEOUT_MS) -> None:
    expect(widget).to_have_attribute("data-state", state, timeout=timeout)


def wait_for_step(widget: Any, name: str, timeout: int = STATE_TIMEOUT_MS) -> None:
    """Wait until the widget shows the step view ``name``: hold, wait or image."""
    wait_for_state(widget, "challenge", timeout)
    expect(widget).to_have_attribute("data-challenge", name, timeout=timeout)


def announcements(page: Any) -> list[str]:
    return page.evaluate("window.announcements")


def pointer_presses(page: Any) -> list[str]:
    return page.evaluate("window.pointerPresses")


def token(page: Any) -> str:
    return page.locator(TOKEN_FIELD).input_value()


def wording(log: ChallengeLog, kind: str) -> int:
    """Return the wording index of the last challenge issued of ``kind``."""
    return log.latest(kind)["challenge"]["wording"]


def hold_ms(log: ChallengeLog) -> int:
    """Return the hold duration of the last hold challenge issued."""
    return log.latest("timing")["challenge"]["hold_ms"]
