"""Run the demo portal under gunicorn: ``python -m challenge_service.demo``."""

from __future__ import annotations

import argparse
import sys

from flask import Flask

from .. import server
from . import create_demo_app

#: Threads of the single worker process. Each booking waits on an HTTP call to
#: the service, and the slots are kept in this process's memory.
THREADS = 4


def _port(value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{value!r} is not a port number") from None

    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{port} is out of range; use 1 to 65535")

    return port


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(
        prog="python -m challenge_service.demo",
        description="Serve the demo pool booking portal.",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="Address to listen on [127.0.0.1]."
    )
    parser.add_argument(
        "--port", type=_port, default=8081, help="Port to listen on [8081]."
    )
    parser.add_argument(
        "--service-url",
        default="http://127.0.0.1:8080",
        help="Base URL of the challenge service [http://127.0.0.1:8080].",
    )
    parser.add_argument(
        "--site-file",
        required=True,
        help="JSON file with the demo site's sitekey and secret, written by"
        " `challenge-service serve --demo`.",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Build the portal and serve it until the process is stopped."""
    args = parse_args(argv)

    try:
        app = create_demo_app(args.service_url, args.site_file)
    except ValueError as error:
        sys.exit(f"demo portal: {error}")

    def load_app() -> Flask:
        return app

    server.run(load_app, args.host, args.port, workers=1, threads=THREADS)


if __name__ == "__main__":
    main()
