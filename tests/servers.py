"""Start the real service as a subprocess for tests that need several workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

#: Seconds to wait for a started server to answer its health check.
START_TIMEOUT = 20


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def cli(*args: str, env: dict[str, str] | None = None, **kwargs):
    """Run ``challenge-service ARGS`` and return the completed process."""
    return subprocess.run(
        [sys.executable, "-m", "challenge_service", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=60,
        **kwargs,
    )


class ServiceProcess:
    """A ``challenge-service serve`` process on 127.0.0.1."""

    def __init__(
        self, data_dir: Path, env: dict[str, str], *extra: str, healthy: bool = True
    ) -> None:
        self.port = free_port()
        self.data_dir = data_dir
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(data_dir / f"serve-{self.port}.log", "w+")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "challenge_service",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
                *extra,
            ],
            env={**os.environ, **env},
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_healthy(healthy)

    def _wait_until_healthy(self, healthy: bool = True) -> None:
        """Wait for a 200 from /healthz, or for any response unless ``healthy``."""
        deadline = time.monotonic() + START_TIMEOUT

        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"serve exited early:\n{self.output()}")

            try:
                response = requests.get(self.url + "/healthz", timeout=1)

                if response.ok or not healthy:
                    return
            except requests.ConnectionError:
                time.sleep(0.1)

        self.stop()
        raise RuntimeError(
            f"serve did not answer in {START_TIMEOUT} s:\n{self.output()}"
        )

    def output(self) -> str:
        self.log.seek(0)
        return self.log.read()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

        self.log.close()


def add_site(
    data_dir: Path | None = None,
    env: dict[str, str] | None = None,
    hostname: str = "localhost",
) -> tuple[str, str]:
    """Create a site with ``challenge-service sites add``; return its key and secret."""
    args = ["sites", "add", "--name", "Pool", "--hostname", hostname]

    if data_dir is not None:
        args += ["--data-dir", str(data_dir)]

    added = cli(*args, env=env)
    lines = dict(line.split(":", 1) for line in added.stdout.splitlines()[:2])
    return lines["site key"].strip(), lines["secret"].strip()
