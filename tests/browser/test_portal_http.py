"""The demo portal's back end over HTTP: headers, rejections and siteverify use."""

from __future__ import annotations

import json
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from collections.abc import Iterator
from html.parser import HTMLParser

import pytest

from challenge_service.demo import create_demo_app
from challenge_service.demo.booking import ACTION
from challenge_service.demo.booking import check_verdict

from .test_demo_tickets import form_ticket
from .test_demo_tickets import Household
from .test_demo_tickets import portal_of

MISSING_FR = "La vérification anti-robot n’a pas été faite."
DUPLICATE_FR = "Cette vérification a déjà servi."
FULL_FR = "Ce créneau vient d’être complet."

#: Places of the Saturday slot, which only the full-slot test books.
SATURDAY_CAPACITY = 2


def expected_policy(service_url: str) -> str:
    return (
        "default-src 'self'; "
        f"script-src 'self' {service_url}; "
        f"style-src 'self' {service_url}; "
        f"connect-src 'self' {service_url}; "
        "worker-src blob:; "
        f"img-src 'self' data: {service_url}; "
        f"media-src {service_url}; "
        "form-action 'self'; "
        "frame-ancestors 'none'; "
        "base-uri 'none'; "
        "object-src 'none'"
    )


def fetch(url: str) -> tuple[int, dict[str, str], str]:
    """GET a URL and return its status, headers and body, even for an error."""
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read().decode()


@pytest.fixture
def pass_token(demo_server) -> Iterator[Callable[..., str]]:
    """Return a function that gets a pass token as the demo page's widget does.

    A token for the form's action carries the risk ticket of the page, which
    the portal requires. A ticket is bound to its action, so a token for
    another action carries none.
    """
    household = Household(portal_of(demo_server))

    def get(action: str = ACTION) -> str:
        if action != ACTION:
            return household.pass_token(action=action)

        return household.pass_token(form_ticket(household.open_form().text))

    yield get
    household.close()


class InlineCodeFinder(HTMLParser):
    """Collect inline scripts, style elements, style attributes and handlers."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = {name for name, _ in attrs}

        if tag == "script" and "src" not in names:
            self.found.append("inline <script>")

        if tag == "style":
            self.found.append("<style> element")

        if "style" in names:
            self.found.append(f"style attribute on <{tag}>")

        self.found.extend(
            f"{name} on <{tag}>" for name in names if name.startswith("on")
        )


def test_page_csp_is_strict(demo_server) -> None:
    status, headers, _ = fetch(demo_server.demo_url + "/demo/")
    policy = headers["Content-Security-Policy"]

    assert status == 200
    assert policy == expected_policy(demo_server.service_url)
    assert "unsafe-inline" not in policy
    assert "unsafe-eval" not in policy
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("path", "status"),
    [("/demo/static/demo.css", 200), ("/demo/missing", 404), ("/", 302)],
)
def test_every_response_has_csp(demo_server, path, status) -> None:
    request = urllib.request.Request(demo_server.demo_url + path)
    opener = urllib.request.build_opener(NoRedirect)

    try:
        with opener.open(request, timeout=10) as response:
            code, headers = response.status, response.headers
    except urllib.error.HTTPError as error:
        with error:
            code, headers = error.code, error.headers

    assert code == status
    assert headers["Content-Security-Policy"] == expected_policy(
        demo_server.service_url
    )
    assert headers["X-Content-Type-Options"] == "nosniff"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Return redirects as responses, so that their headers can be read."""

    def redirect_request(self, *args, **kwargs) -> None:
        return None


def test_pages_have_no_inline_code(demo_server, post_booking) -> None:
    pages = {
        "form": fetch(demo_server.demo_url + "/demo/")[2],
        "English form": fetch(demo_server.demo_url + "/demo/?lang=en")[2],
        "rejection": post_booking({"name": "", "slot": ""}).html,
        "error": fetch(demo_server.demo_url + "/demo/missing")[2],
    }

    for label, html in pages.items():
        finder = InlineCodeFinder()
        finder.feed(html)

        assert finder.found == [], label


def test_widget_markup_and_script(demo_server) -> None:
    _, _, html = fetch(demo_server.demo_url + "/demo/")
    widget_script = f'<script src="{demo_server.service_url}/widget/v1/captcha.js"'

    assert widget_script in html
    assert f'data-sitekey="{demo_server.sitekey}"' in html
    assert 'data-action="book"' in html
    assert 'data-lang="fr"' in html
    assert "<noscript>" in html
    assert demo_server.secret not in html


def test_missing_token_rejected(post_booking) -> None:
    response = post_booking({"name": "Léa Morel", "slot": "lundi-1800"})

    assert response.status == 400
    assert MISSING_FR in response.html
    assert 'role="alert"' in response.html
    assert 'value="Léa Morel"' in response.html
    assert re.search(r'value="lundi-1800"\s+checked', response.html)


def test_typed_name_is_escaped(post_booking) -> None:
    response = post_booking({"name": '"><script>alert(1)</script>', "slot": "x"})

    assert response.status == 400
    assert "<script>alert(1)" not in response.html
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in response.html


def test_wrong_method_lists_allowed(demo_server) -> None:
    request = urllib.request.Request(demo_server.demo_url + "/demo/book", method="PUT")

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)

    with caught.value as error:
        allowed = {method.strip() for method in error.headers["Allow"].split(",")}

    assert error.code == 405
    assert "POST" in allowed


def test_name_with_joiner_accepted(pass_token, post_booking) -> None:
    fields = {
        "name": "Mehr\u200cnaz Karimi",
        "slot": "mercredi-1215",
        "challenge-response": pass_token(),
    }
    response = post_booking(fields)

    assert response.status == 200
    assert "Mehr\u200cnaz Karimi" in response.html


def test_field_errors_leave_token_unspent(pass_token, post_booking) -> None:
    token = pass_token()
    rejected = post_booking(
        {"name": " ", "slot": "mercredi-1215", "challenge-response": token}
    )

    assert rejected.status == 400
    assert "Indiquez votre nom et prénom." in rejected.html
    assert re.search(r'value="mercredi-1215"\s+checked', rejected.html)

    accepted = post_booking(
        {"name": "Hugo Blanc", "slot": "mercredi-1215", "challenge-response": token}
    )

    assert accepted.status == 200
    assert "Réservation confirmée" in accepted.html


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"name": "x" * 81, "slot": "lundi-1800"}, "au plus 80 caractères"),
        ({"name": "Zoé\x00", "slot": "lundi-1800"}, "caractères non autorisés"),
        ({"name": "Zoé", "slot": "dimanche-0900"}, "Ce créneau n’existe pas."),
        ({"name": "Zoé"}, "Choisissez un créneau."),
    ],
)
def test_invalid_fields_rejected(post_booking, fields, message) -> None:
    response = post_booking({**fields, "challenge-response": "unused"})

    assert response.status == 400
    assert message in response.html


def test_full_slot_rejected_after_verify(pass_token, post_booking) -> None:
    for index in range(SATURDAY_CAPACITY):
        fields = {
            "name": f"Nageur {index}",
            "slot": "samedi-1000",
            "challenge-response": pass_token(),
        }

        assert post_booking(fields).status == 200

    last_token = pass_token()
    fields = {"name": "Ana Costa", "slot": "samedi-1000"}
    full = post_booking({**fields, "challenge-response": last_token})

    assert full.status == 409
    assert FULL_FR in full.html
    assert 'value="Ana Costa"' in full.html
    assert re.search(r'value="samedi-1000"\s+disabled', full.html)
    assert "(complet)" in full.html

    # The portal verified the token before it found the slot full.
    replay = post_booking({**fields, "challenge-response": last_token})

    assert replay.status == 400
    assert DUPLICATE_FR in replay.html


def test_token_of_other_action_rejected(pass_token, post_booking) -> None:
    fields = {
        "name": "Marc Durand",
        "slot": "lundi-1800",
        "challenge-response": pass_token(action="login"),
    }
    response = post_booking(fields)

    assert response.status == 400
    assert "a été faite pour un autre formulaire" in response.html


def test_forged_token_rejected(post_booking) -> None:
    fields = {"name": "Marc Durand", "slot": "lundi-1800", "challenge-response": "x.y"}
    response = post_booking(fields)

    assert response.status == 400
    assert "La vérification anti-robot n’est pas valable." in response.html


def test_english_rejection(post_booking) -> None:
    response = post_booking({"name": "Amy Smith", "slot": "lundi-1800"}, lang="en")

    assert response.status == 400
    assert '<html lang="en">' in response.html
    assert "The human check was not done." in response.html
    assert 'action="/demo/book?lang=en"' in response.html


def test_oversized_body_rejected(demo_server) -> None:
    request = urllib.request.Request(
        demo_server.demo_url + "/demo/book",
        data=b"name=" + b"x" * 10_000,
        method="POST",
    )

    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)

    with caught.value as error:
        body = error.read().decode()

    assert error.code == 413
    assert "La demande est trop volumineuse." in body


def test_logs_hold_no_secret_or_name(demo_server, pass_token, post_booking) -> None:
    token = pass_token()
    fields = {"name": "Sacha Girard", "slot": "lundi-1800", "challenge-response": token}

    assert post_booking(fields).status == 200

    log = demo_server.log()

    assert "booking confirmed slot=lundi-1800" in log
    assert demo_server.secret not in log
    assert token not in log
    assert "Sacha Girard" not in log


def test_malformed_chunks_give_400_and_log_nothing(demo_server) -> None:
    from urllib.parse import urlsplit

    address = urlsplit(demo_server.demo_url)
    body = b"name=Chunk+Girard&slot=lundi-1800&challenge-response=chunk-token"
    request = (
        b"POST /demo/book HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n" + body + b"\r\n"
    )

    with socket.create_connection((address.hostname, address.port), timeout=10) as client:
        client.sendall(request)
        answer = b""

        while chunk := client.recv(65536):
            answer += chunk

    log = demo_server.log()

    assert answer.split()[1] == b"400"
    assert "Chunk Girard" not in log
    assert "Chunk+Girard" not in log
    assert "chunk-token" not in log


def test_short_body_books_nothing(demo_server, pass_token) -> None:
    from urllib.parse import urlsplit

    address = urlsplit(demo_server.demo_url)
    token = pass_token()
    body = f"name=Nina+Roy&slot=lundi-1800&challenge-response={token}".encode()
    request = (
        b"POST /demo/book HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/x-www-form-urlencoded\r\n"
        b"Content-Length: %d\r\nConnection: close\r\n\r\n" % (len(body) + 20)
    ) + body

    with socket.create_connection((address.hostname, address.port), timeout=10) as client:
        client.sendall(request)
        client.shutdown(socket.SHUT_WR)
        answer = b""

        while chunk := client.recv(65536):
            answer += chunk

    assert answer.split()[1] == b"400"
    assert "Nina Roy" not in answer.decode(errors="replace")
    # The token stays unspent, so the portal's next full request can use it.
    fields = urllib.parse.urlencode({"secret": demo_server.secret, "response": token})
    with urllib.request.urlopen(
        demo_server.service_url + "/api/v1/siteverify", fields.encode(), timeout=10
    ) as response:
        assert json.loads(response.read())["success"] is True


def test_service_down_gives_503(tmp_path) -> None:
    site_file = tmp_path / "site.json"
    site_file.write_text(json.dumps({"sitekey": "site_a", "secret": "secret_b"}))
    fields = {"name": "Nina Roy", "slot": "lundi-1800", "challenge-response": "t"}

    # A bound socket that does not listen holds the port, so every connection
    # to it is refused.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        app = create_demo_app(f"http://127.0.0.1:{port}", site_file)
        response = app.test_client().post("/demo/book", data=fields)

    html = response.get_data(as_text=True)

    assert response.status_code == 503
    assert "Le service de vérification ne répond pas." in html
    assert 'value="Nina Roy"' in html


@pytest.mark.parametrize(
    ("codes", "reason", "status"),
    [
        (["missing-input-response"], "verification-missing", 400),
        (
            ["timeout-or-duplicate", "expired-input-response"],
            "verification-expired",
            400,
        ),
        (
            ["timeout-or-duplicate", "already-seen-response"],
            "verification-duplicate",
            400,
        ),
        (["timeout-or-duplicate"], "verification-expired", 400),
        (["invalid-input-response"], "verification-invalid", 400),
        (["invalid-input-secret"], "portal-misconfigured", 500),
        (["sitekey-secret-mismatch"], "portal-misconfigured", 500),
        (["bad-request"], "portal-misconfigured", 500),
        (["internal-error"], "service-unavailable", 503),
        (["something-new"], "verification-invalid", 400),
    ],
)
def test_error_codes_map_to_rejections(codes, reason, status) -> None:
    rejection = check_verdict({"success": False, "error-codes": codes}, "localhost")

    assert rejection is not None
    assert rejection.reason == reason
    assert rejection.status == status


def test_success_on_other_hostname_rejected() -> None:
    result = {"success": True, "action": "book", "hostname": "evil.example"}
    rejection = check_verdict(result, "localhost")

    assert rejection is not None
    assert rejection.reason == "verification-invalid"
