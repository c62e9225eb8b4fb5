"""Host pages for the widget tests: a static file server and short-lived services.

The host pages play the part of a portal on ``http://localhost:PORT``, another
origin than the service on ``http://127.0.0.1:PORT``. Each HTML page is a
``string.Template``: the server fills in ``$service`` and ``$sitekey`` and
sends the page with a Content-Security-Policy header, like a portal would.
"""

from __future__ import annotations

import dataclasses
import http.server
import json
import mimetypes
import shutil
import string
import threading
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import requests

from tests.servers import free_port
from tests.servers import ServiceProcess

#: Folder of the host pages and their scripts.
PAGES_DIR = Path(__file__).resolve().parent / "pages"

#: The widget's files in this checkout, as the service serves them.
WIDGET_DIR = Path(__file__).resolve().parents[2] / "widgets" / "captcha"

#: CSP of a portal that loads the widget from the service.
PORTAL_CSP = (
    "default-src 'self'; script-src 'self' $service; connect-src $service;"
    " worker-src blob:; img-src 'self' data:"
)

#: CSP of a portal that serves the widget's files itself, under /captcha/.
SELF_HOSTED_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; worker-src 'self';"
    " connect-src 'self' $service"
)

#: Seconds between the host server's checks for a shutdown request.
POLL_INTERVAL = 0.05

#: Seconds that siteverify may take before a test fails.
VERIFY_TIMEOUT = 10

#: Records, in every document, what the tests check after the fact: each
#: data-state value a widget took, with its hidden field value and alert text,
#: and each unhandled promise rejection. A MutationObserver reports changes in
#: batches, so the value that a change set is the old value of the next change
#: of the same element. The field and the alert are read when the batch is
#: reported. Init scripts run outside the page's CSP, so this works under the
#: strict policies of the host pages.
RECORDER_SCRIPT = """
window.stateLog = [];
window.unhandledRejections = [];
window.addEventListener('unhandledrejection', (event) => {
  const reason = event.reason;
  window.unhandledRejections.push(
    String(reason && (reason.code || reason.message) || reason));
});
new MutationObserver((records) => {
  records.forEach((record, index) => {
    const host = record.target;
    const later = records.slice(index + 1).find((next) => next.target === host);
    const state = later ? later.oldValue : host.getAttribute('data-state');
    if (state === null) return;
    const field = host.querySelector('input[type=hidden]');
    const alert = host.shadowRoot && host.shadowRoot.querySelector('.cw-alert');
    window.stateLog.push({
      state,
      field: field ? field.value : null,
      alert: alert ? alert.textContent : '',
    });
  });
}).observe(document, {
  subtree: true,
  attributes: true,
  attributeOldValue: true,
  attributeFilter: ['data-state'],
});
"""


@dataclasses.dataclass
class Service:
    """A running challenge service and the localhost site it serves."""

    url: str
    sitekey: str
    secret: str

    def verify(self, token: str) -> dict[str, Any]:
        """Post ``token`` to siteverify with the site's secret and return the JSON."""
        response = requests.post(
            self.url + "/api/v1/siteverify",
            data={"secret": self.secret, "response": token},
            timeout=VERIFY_TIMEOUT,
        )
        response.raise_for_status()
        return response.json()


@contextmanager
def short_lived_service(data_dir: Path, env: dict[str, str]) -> Iterator[Service]:
    """Run ``challenge-service serve --demo`` with extra settings in ``env``.

    The demo mode creates the site for ``localhost`` and ``127.0.0.1``. Its
    demo portal listens on a free port and is not used.
    """
    process = ServiceProcess(
        data_dir, env, "--demo", "--demo-port", str(free_port()), "--workers", "1"
    )

    try:
        site = json.loads((data_dir / "demo-site.json").read_text())
        yield Service(process.url, site["sitekey"], site["secret"])
    finally:
        process.stop()


def copy_widget(destination: Path) -> Path:
    """Copy the widget's files to ``destination`` and return that folder."""
    shutil.copytree(WIDGET_DIR, destination)
    return destination


class _Handler(http.server.BaseHTTPRequestHandler):
    server: HostServer

    def do_GET(self) -> None:
        path = self.server.resolve(urllib.parse.urlsplit(self.path).path)

        if path is None:
            self.send_error(404)
            return

        body = path.read_bytes()
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"

        if path.suffix == ".html":
            body = self.server.render(body.decode()).encode()
            content_type = "text/html; charset=utf-8"
        elif content_type.startswith("text/"):
            content_type += "; charset=utf-8"

        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")

        if path.suffix == ".html":
            self.send_header("Content-Security-Policy", self.server.csp)

        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        # Requests are not logged, so that pytest's output stays readable.
        pass


class HostServer(http.server.ThreadingHTTPServer):
    """A static file server on 127.0.0.1 for host pages and widget copies.

    ``mounts`` maps URL prefixes such as ``/`` or ``/captcha/`` to folders.
    Every HTML page gets ``csp`` as its Content-Security-Policy, with
    ``$service`` replaced by the service origin.
    """

    daemon_threads = True

    def __init__(self, service: Service, csp: str, mounts: dict[str, Path]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.values = {"service": service.url, "sitekey": service.sitekey}
        self.csp = string.Template(csp).substitute(self.values)
        # Longest prefix first, so that /captcha/ wins over /.
        self.mounts = sorted(mounts.items(), key=lambda item: -len(item[0]))
        self.url = f"http://localhost:{self.server_address[1]}"
        self._thread = threading.Thread(
            target=self.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            daemon=True,
        )
        self._thread.start()

    def resolve(self, url_path: str) -> Path | None:
        """Return the file for ``url_path``, or None if no mount contains it."""
        for prefix, folder in self.mounts:
            if not url_path.startswith(prefix):
                continue

            candidate = (folder / url_path[len(prefix) :]).resolve()

            if candidate.is_file() and candidate.is_relative_to(folder.resolve()):
                return candidate

        return None

    def render(self, template: str) -> str:
        """Fill in ``$service`` and ``$sitekey`` in a host page."""
        return string.Template(template).substitute(self.values)

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.shutdown()
        self._thread.join(timeout=5)
        self.server_close()
