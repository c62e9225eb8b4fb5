"""Running Flask applications under gunicorn, the production WSGI server."""

from __future__ import annotations

import json
import logging
import multiprocessing
import re
import socket
from collections.abc import Callable
from typing import Any

from flask import Flask
from gunicorn import glogging
from gunicorn import util as gunicorn_util
from gunicorn.app.base import BaseApplication

#: Upper bound of the default worker count; more rarely helps a sync server.
MAX_DEFAULT_WORKERS = 8


def default_workers() -> int:
    """Return gunicorn's usual worker count for this machine, 2 x cores + 1."""
    return min(2 * multiprocessing.cpu_count() + 1, MAX_DEFAULT_WORKERS)


#: IPv4 and IPv6 addresses as gunicorn writes them into its messages.
_ADDRESS = re.compile(
    r"\b\d{1,3}(?:\.\d{1,3}){3}\b"
    # IPv6 needs "::" or a hex letter, so that a time such as 18:07:22 stays.
    r"|(?<![\w:])(?=[0-9A-Fa-f:]*(?:::|[A-Fa-f]))(?:[0-9A-Fa-f]{0,4}:){2,7}"
    r"[0-9A-Fa-f]{0,4}(?![\w:])"
)


#: The part of a gunicorn message that quotes what the client sent: a request
#: line or a header, which may contain a secret or a pass token.
_QUOTED_REQUEST = re.compile(r"""(:\s*)?['"].*""", re.DOTALL)

#: The request target of gunicorn's "Error handling request" lines, whose
#: path segments may hold what the client typed.
_REQUEST_TARGET = re.compile(r"(Error handling request(?: [A-Z]+)?) /\S*")

#: A query string in a request target that gunicorn logs.
_QUERY = re.compile(r"""\?[^\s'"]*""")


class _RedactAddresses(logging.Filter):
    """Redact gunicorn's own messages, such as its warning about an invalid
    request: no raw IP address and nothing that the client sent reaches the log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = _ADDRESS.sub("[address]", record.getMessage())
        message = _QUERY.sub("?[query]", message)
        message = _REQUEST_TARGET.sub(r"\1 [path]", message)
        record.msg = _QUOTED_REQUEST.sub("", message)
        record.args = ()
        return True


class _Logger(glogging.Logger):
    """gunicorn's logger with client addresses redacted."""

    def setup(self, cfg) -> None:
        super().setup(cfg)
        self.error_log.addFilter(_RedactAddresses())


#: Error code and message of each status that gunicorn sends by itself, for a
#: request it cannot parse, before the application receives it.
_SERVER_ERRORS = {
    400: ("bad-request", "The HTTP request is malformed; send a valid HTTP/1.1 request."),
    403: ("bad-request", "The request is forbidden by the server's proxy settings."),
    414: (
        "uri-too-long",
        "The request line is longer than the server accepts; shorten the URL.",
    ),
    417: (
        "bad-request",
        "The Expect header is not supported; send the request without it.",
    ),
    431: (
        "headers-too-large",
        "The request headers are larger than the server accepts; send fewer or"
        " shorter headers.",
    ),
    501: (
        "bad-request",
        "The Transfer-Encoding is not supported; send the body with a"
        " Content-Length or chunked.",
    ),
}


def _write_json_error(client: socket.socket, status: int, reason: str, _: str) -> None:
    """Send gunicorn's own error responses as JSON, in the service's error shape.

    gunicorn's message is left out: it repeats parts of the malformed request.
    """
    # gunicorn sends 500 "Bad Request" for a header it refuses to take, such
    # as SCRIPT_NAME: the client's fault, so 400.
    if status == 500 and reason == "Bad Request":
        status = 400

    code, message = _SERVER_ERRORS.get(
        status, ("internal-error", "The server failed to read the request; retry.")
    )
    body = json.dumps(
        {"status": status, "error": code, "message": message, "field": None}
    ).encode()
    head = (
        f"HTTP/1.1 {status} {reason}\r\n"
        "Connection: close\r\n"
        "Content-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n"
        "X-Content-Type-Options: nosniff\r\n"
        "Cache-Control: no-store\r\n\r\n"
    )
    gunicorn_util.write_nonblock(client, head.encode("latin-1") + body)


class GunicornServer(BaseApplication):
    """Serve one Flask application with pre-forked gunicorn workers."""

    def __init__(self, load_app: Callable[[], Flask], options: dict[str, Any]) -> None:
        self._load_app = load_app
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for name, value in self._options.items():
            self.cfg.set(name, value)

    def load(self) -> Flask:
        return self._load_app()


def run(
    load_app: Callable[[], Flask],
    host: str,
    port: int,
    workers: int,
    threads: int = 1,
) -> None:
    """Serve until the process is stopped."""
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        # Build the application once in the master so that a bad setting stops
        # the start with one clear message instead of crashing every worker.
        "preload_app": True,
        "accesslog": None,
        "errorlog": "-",
        "logger_class": _Logger,
        "loglevel": "warning",
        "timeout": 30,
        "graceful_timeout": 5,
    }
    # NOTE: gunicorn's workers send these errors through util.write_error, a
    # module function replaced here. tests/test_server.py checks it still is.
    gunicorn_util.write_error = _write_json_error
    GunicornServer(load_app, options).run()
