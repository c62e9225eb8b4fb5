"""Signing: purposes, key rotation and tampering."""

from __future__ import annotations

import pytest

from challenge_service.signing import ENVELOPE
from challenge_service.signing import InvalidSignature
from challenge_service.signing import PASS_TOKEN
from challenge_service.signing import Signer

OLD = "old-signing-key-0123456789abcdefghijklmn"
NEW = "new-signing-key-0123456789abcdefghijklmn"


def test_round_trip():
    signer = Signer([NEW])

    assert signer.load(PASS_TOKEN, signer.sign(PASS_TOKEN, {"a": 1})) == {"a": 1}


def test_purpose_separates_tokens():
    signer = Signer([NEW])
    envelope = signer.sign(ENVELOPE, {"id": "x"})

    with pytest.raises(InvalidSignature):
        signer.load(PASS_TOKEN, envelope)


def test_old_key_verifies_after_rotation():
    signed = Signer([OLD]).sign(PASS_TOKEN, {"a": 1})

    assert Signer([OLD, NEW]).load(PASS_TOKEN, signed) == {"a": 1}


def test_newest_key_signs():
    signed = Signer([OLD, NEW]).sign(PASS_TOKEN, {"a": 1})

    assert Signer([NEW]).load(PASS_TOKEN, signed) == {"a": 1}

    with pytest.raises(InvalidSignature):
        Signer([OLD]).load(PASS_TOKEN, signed)


def test_retired_key_no_longer_verifies():
    signed = Signer([OLD]).sign(PASS_TOKEN, {"a": 1})

    with pytest.raises(InvalidSignature):
        Signer([NEW]).load(PASS_TOKEN, signed)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s[:-1] + ("A" if s[-1] != "A" else "B"),
        lambda s: "x" + s,
        lambda s: s.replace(".", ""),
        lambda s: "",
        lambda s: "." * 3,
        lambda s: s + "." + s,
        lambda s: s * 20,
    ],
)
def test_tampered_value_fails(mangle):
    signer = Signer([NEW])
    signed = signer.sign(PASS_TOKEN, {"a": 1})

    with pytest.raises(InvalidSignature):
        signer.load(PASS_TOKEN, mangle(signed))


def test_signed_form_is_canonical():
    signer = Signer([NEW])

    assert signer.sign(PASS_TOKEN, {"b": 1, "a": 2}) == signer.sign(
        PASS_TOKEN, {"a": 2, "b": 1}
    )


def test_non_object_payload_fails():
    signer = Signer([NEW])

    with pytest.raises(InvalidSignature, match="not an object"):
        signer.load(PASS_TOKEN, signer.sign(PASS_TOKEN, [1, 2]))
