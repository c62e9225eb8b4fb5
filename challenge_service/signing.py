"""Signing of envelopes and pass tokens with a rotating list of keys.

Each purpose has its own itsdangerous salt, so an envelope never passes for a
pass token. Keys are a list, oldest first: the newest signs, all verify, so a
key can be added before the old one is retired. Expiry is an explicit ``exp``
field checked against the service's own clock by the caller, never by the
client's clock.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from typing import Any

from itsdangerous import BadSignature
from itsdangerous import Signer as _ItsdangerousSigner
from itsdangerous import URLSafeSerializer

ENVELOPE = "challenge-envelope"
PASS_TOKEN = "pass-token"
RISK_TICKET = "risk-ticket"
#: The image and audio URLs of one image challenge.
MEDIA = "challenge-media"
#: A fixed value stored in the shared store, to check that instances share keys.
KEY_PROBE = "key-probe"

PURPOSES = (ENVELOPE, PASS_TOKEN, RISK_TICKET, MEDIA, KEY_PROBE)

#: Longest signed value that is even decoded; anything longer is rejected.
MAX_SIGNED_LENGTH = 2048

#: A payload and a 20-byte HMAC-SHA1 signature in unpadded URL-safe base64.
_SIGNED_FORM = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{27}")

#: Characters that can end the signature: 20 bytes fill 26 characters and 4
#: bits of the 27th, whose 2 spare bits must be zero.
_LAST_CHARACTERS = frozenset("AEIMQUYcgkosw048")


class InvalidSignature(Exception):
    """Raised when a signed value is malformed, tampered with or for another use."""


class _DerivedKeySigner(_ItsdangerousSigner):
    """itsdangerous signer that derives each key from the salt once.

    The stock signer hashes the salt and the key again for every signature it
    makes or checks, a fixed cost on every verify.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._derived: dict[bytes, bytes] = {}

    def derive_key(self, secret_key: str | bytes | None = None) -> bytes:
        key = self.secret_keys[-1] if secret_key is None else secret_key
        key = key.encode() if isinstance(key, str) else key
        derived = self._derived.get(key)

        if derived is None:
            derived = self._derived[key] = super().derive_key(key)

        return derived


class _Serializer(URLSafeSerializer):
    """URL-safe serializer that skips zlib compression and reuses its signer.

    The payloads are a few hundred bytes, so compressing them saves little and
    costs most of the signing time. The stock serializer also builds a new
    signer, with its key list, for every value it signs or loads. The keys of
    one serializer never change, so one signer serves every call.
    """

    signer = _DerivedKeySigner

    def make_signer(self, salt: str | bytes | None = None) -> _ItsdangerousSigner:
        if salt is not None and salt != self.salt:
            return super().make_signer(salt)

        cached = self.__dict__.get("_signer")

        if cached is None:
            cached = self._signer = super().make_signer(self.salt)

        return cached

    def dump_payload(self, obj: Any) -> bytes:
        text = json.dumps(obj, separators=(",", ":"), sort_keys=True)
        return base64.urlsafe_b64encode(text.encode()).rstrip(b"=")


def key_id(key: str) -> str:
    """Return a short public name of ``key``, to find it again among the keys."""
    return hashlib.sha256(b"key-id:" + key.encode()).hexdigest()[:8]


class Signer:
    """Sign and load payloads for one purpose each, with a list of keys."""

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ValueError("Signer needs at least one key.")

        self._keys = {key_id(key): key.encode() for key in keys}
        self._newest = key_id(keys[-1])
        self._serializers = {
            purpose: _Serializer(list(keys), salt=purpose) for purpose in PURPOSES
        }

    def sign(self, purpose: str, payload: dict[str, Any]) -> str:
        """Return ``payload`` signed with the newest key for ``purpose``."""
        return self._serializers[purpose].dumps(payload)

    def derive(self, label: str, key: str | None = None) -> tuple[str, bytes]:
        """Return a key id and the HMAC-SHA256 of ``label`` under that key.

        Without ``key`` the newest key derives, and its id is returned so that
        the same secret can be derived again later with ``key=that id``.

        :raises InvalidSignature: if ``key`` names no current key, for example
            a retired one.
        """
        chosen = self._newest if key is None else key
        secret = self._keys.get(chosen)

        if secret is None:
            raise InvalidSignature(f"No signing key has the id {chosen!r}.")

        return chosen, hmac.new(secret, label.encode(), hashlib.sha256).digest()

    def load(self, purpose: str, signed: str) -> dict[str, Any]:
        """Verify ``signed`` with any key and return its payload.

        :raises InvalidSignature: if the value is too long, malformed, signed
            with an unknown key or for another purpose.
        """
        if len(signed) > MAX_SIGNED_LENGTH:
            raise InvalidSignature("The signed value is too long.")

        # Base64 decoding skips characters outside its alphabet and ignores
        # the spare bits of the last character, so several strings would
        # carry one valid signature. The HMAC covers the payload text as sent,
        # so only the signature's spelling needs checking here.
        if not _SIGNED_FORM.fullmatch(signed) or signed[-1] not in _LAST_CHARACTERS:
            raise InvalidSignature("The signed value is not in canonical form.")

        try:
            payload = self._serializers[purpose].loads(signed)
        except (BadSignature, UnicodeDecodeError) as error:
            raise InvalidSignature(str(error)) from error

        if not isinstance(payload, dict):
            raise InvalidSignature("The signed value is not an object.")

        return payload
