"""Start a real ``redis-server`` on 127.0.0.1 for the tests of the Redis store."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.servers import free_port

#: Seconds to wait for a started server to reply to PING.
START_TIMEOUT = 10

#: Seconds to wait for a server to exit after SIGTERM before it is killed.
STOP_TIMEOUT = 10


def find_redis_server() -> str:
    """Return the path of ``redis-server``, or raise naming the package to install."""
    path = shutil.which("redis-server")

    if path is None:
        raise RuntimeError(
            "redis-server is not installed; install Debian's redis-server package"
            " (scripts/test does this) to run the Redis store tests."
        )

    return path


def answers_ping(port: int) -> bool:
    """Return whether a Redis server on 127.0.0.1:``port`` replies to PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5) as client:
            client.sendall(b"PING\r\n")
            return client.recv(64).startswith(b"+PONG")
    except OSError:
        return False


class RedisServer:
    """A ``redis-server`` process on 127.0.0.1 that keeps its port across restarts.

    With ``appendonly`` the server logs every write to an append-only file in
    ``directory`` and reloads it on start, as a production server should. Without
    it the server keeps nothing on disk, so a restart empties it.
    """

    def __init__(self, directory: Path, appendonly: bool = False) -> None:
        self.directory = directory
        self.appendonly = appendonly
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen | None = None
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = self.directory / f"redis-{self.port}.log"

    def start(self) -> None:
        """Start the server and wait until it replies to PING."""
        if self.process is not None:
            raise RuntimeError(f"redis-server on port {self.port} is already running.")

        command = [
            find_redis_server(),
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "yes" if self.appendonly else "no",
            "--appendfsync",
            "everysec",
            "--dir",
            str(self.directory),
        ]

        with open(self.log_path, "a") as log:
            self.process = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT
            )

        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT

        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.process = None
                raise RuntimeError(f"redis-server exited early:\n{self.output()}")

            if answers_ping(self.port):
                return

            time.sleep(0.02)

        self.stop()
        raise RuntimeError(
            f"redis-server did not reply to PING in {START_TIMEOUT} s:\n{self.output()}"
        )

    def stop(self) -> None:
        """Stop the server with SIGTERM, and kill it if it does not exit in time."""
        if self.process is None:
            return

        if self.process.poll() is None:
            # A paused server handles SIGTERM only once it runs again.
            self.process.send_signal(signal.SIGCONT)
            self.process.send_signal(signal.SIGTERM)

            try:
                self.process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

        self.process = None

    def restart(self) -> None:
        """Stop the server and start it again on the same port."""
        self.stop()
        self.start()

    def pause(self) -> None:
        """Suspend the server with SIGSTOP.

        The kernel still accepts connections, but no reply comes until ``resume``.
        """
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """Let a paused server run again."""
        self.process.send_signal(signal.SIGCONT)

    def output(self) -> str:
        """Return the server's log."""
        return self.log_path.read_text(errors="replace")
