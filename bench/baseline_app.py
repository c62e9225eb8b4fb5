"""Reference endpoint for the verify benchmark: parse a form, check one HMAC.

This is the least work any verify endpoint does, under the same server as
the real one, so their throughput ratio shows what the service adds.
"""

from __future__ import annotations

import base64
import hashlib
import hmac

from flask import Flask
from flask import jsonify
from flask import request

KEY = b"baseline-key-0123456789abcdefghijklmnop"

app = Flask(__name__)


def sign(payload: bytes) -> str:
    """Return ``payload.signature`` for the reference endpoint."""
    digest = hmac.new(KEY, payload, hashlib.sha256).digest()
    return payload.decode() + "." + base64.urlsafe_b64encode(digest).decode()


@app.post("/verify")
def verify():
    payload, _, signature = request.form.get("response", "").rpartition(".")
    digest = hmac.new(KEY, payload.encode(), hashlib.sha256).digest()
    expected = base64.urlsafe_b64encode(digest).decode()
    return jsonify({"success": hmac.compare_digest(expected, signature)})
