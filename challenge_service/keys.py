"""Signing keys kept in the data folder, and their rotation.

The key file contains a list of keys, oldest first: the newest signs, all of them
verify. ``challenge-service keys rotate`` appends a key, and every running
process notices the change within ``RELOAD_INTERVAL`` seconds, so envelopes,
pass tokens and risk tickets signed before a rotation keep verifying until
they expire. ``keys retire`` then removes the keys that nothing alive can
still carry.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .signing import Signer

logger = logging.getLogger(__name__)

KEYS_FILE = "signing-keys.json"

#: Seconds a process keeps using the keys it read before it looks at the file.
RELOAD_INTERVAL = 1.0

#: Seconds added to the longest lifetime before a replaced key may be retired,
#: for clock steps and for processes that have not reloaded the file yet.
RETIRE_MARGIN = 60


class KeyFileError(Exception):
    """Raised when the key file is missing, malformed or cannot be changed."""


@dataclasses.dataclass(frozen=True)
class SigningKey:
    """One signing key and when it was created, in seconds since the epoch."""

    id: str
    secret: str
    created: float


class KeyFile:
    """The list of signing keys in one JSON file, readable only by its owner."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def exists(self) -> bool:
        """Return whether the key file exists."""
        return self.path.exists()

    def load(self) -> list[SigningKey]:
        """Return the keys, oldest first."""
        try:
            records = json.loads(self.path.read_text())
            keys = [
                SigningKey(r["id"], r["secret"], float(r["created"])) for r in records
            ]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise KeyFileError(
                f"The signing key file {self.path} cannot be read ({error}); restore"
                " it from a backup or set CHALLENGE_SERVICE_SIGNING_KEYS."
            ) from None

        if not keys:
            raise KeyFileError(f"The signing key file {self.path} contains no key.")

        return keys

    def ensure(self, now: float) -> None:
        """Create the file with one new key unless it exists."""
        with self._locked():
            if not self.exists():
                self._save([_new_key(now)])

    def rotate(self, now: float) -> SigningKey:
        """Append a new key, which signs from now on, and return it."""
        with self._locked():
            keys = self.load() if self.exists() else []
            key = _new_key(now)
            self._save([*keys, key])

        return key

    def retire(
        self, now: float, max_lifetime: float, force: bool = False
    ) -> list[SigningKey]:
        """Remove the keys that no unexpired signed value can carry; return them.

        A key stopped signing when the next key was created; values it signed
        live at most ``max_lifetime`` seconds more. With ``force`` every key but
        the newest goes, as after a leak.
        """
        with self._locked():
            keys = self.load()
            remaining = [keys[-1]]

            for key, successor in zip(keys[-2::-1], keys[::-1]):
                retired_after = successor.created + max_lifetime + RETIRE_MARGIN

                if not force and now < retired_after:
                    remaining.insert(0, key)

            # An unchanged file keeps its inode, so running processes do not
            # reload it.
            if len(remaining) < len(keys):
                self._save(remaining)

        return [key for key in keys if key not in remaining]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        # Two operators running rotate at once must not drop each other's key.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)

        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _save(self, keys: list[SigningKey]) -> None:
        # Write a new file and rename it over the old one, so that a process
        # reading at the same time reads either list, never half of one.
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

        with os.fdopen(fd, "w") as handle:
            json.dump([dataclasses.asdict(key) for key in keys], handle, indent=1)

        os.replace(temporary, self.path)


def _new_key(now: float) -> SigningKey:
    return SigningKey(secrets.token_hex(4), secrets.token_urlsafe(32), now)


class KeyFileSigner:
    """A :class:`Signer` that follows the key file as it is rotated."""

    def __init__(self, key_file: KeyFile, reload_interval: float = RELOAD_INTERVAL):
        self.key_file = key_file
        self.reload_interval = reload_interval
        self._signer = Signer([key.secret for key in key_file.load()])
        self._version = self._file_version()
        self._checked_at = time.monotonic()

    def _file_version(self) -> tuple[int, int, int]:
        # Every save renames a new file into place, so the inode changes even
        # when two saves fall within one tick of the file system's clock.
        status = self.key_file.path.stat()
        return status.st_ino, status.st_mtime_ns, status.st_size

    def _current(self) -> Signer:
        now = time.monotonic()

        if now - self._checked_at >= self.reload_interval:
            self._checked_at = now
            self._reload_if_changed()

        return self._signer

    def _reload_if_changed(self) -> None:
        # A file that cannot be read now keeps the keys read before, so a
        # botched edit never stops the service from verifying.
        try:
            version = self._file_version()

            if version != self._version:
                self._signer = Signer([key.secret for key in self.key_file.load()])
                self._version = version
        except (OSError, KeyFileError) as error:
            logger.warning(
                "failed to reload the signing keys, using the previous ones: %s", error
            )

    def sign(self, purpose: str, payload: dict) -> str:
        """Sign with the newest key of the file."""
        return self._current().sign(purpose, payload)

    def load(self, purpose: str, signed: str) -> dict:
        """Verify with any key of the file."""
        return self._current().load(purpose, signed)

    def derive(self, label: str, key: str | None = None) -> tuple[str, bytes]:
        """Derive a secret with the newest key of the file, or the key ``key``."""
        return self._current().derive(label, key)
