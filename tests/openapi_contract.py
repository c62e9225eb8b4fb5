"""Check Flask test-client requests and responses against ``openapi.yaml``.

The checks use openapi-core's request and response validators. A failed check
lists every validation error with its cause, so the assertion message shows
which field or header broke the contract. The helpers at the end send the
requests, check the error bodies and answer the steps of a flow for every
contract test module.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from datetime import timezone
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from openapi_schema_validator import OAS31Validator
from openapi_schema_validator import oas31_format_checker
from werkzeug.test import TestResponse

from challenge_service.media import image as drawing
from challenge_service.policies import Policies
from challenge_service.policy import SitePolicy
from challenge_service.signing import ENVELOPE
from challenge_service.signing import Signer
from challenge_service.sites import create_site
from conftest import Flow
from conftest import ORIGIN
from conftest import SIGNING_KEY

DOCUMENT_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"

CHALLENGES = "/api/v1/challenges"
SITEVERIFY = "/api/v1/siteverify"
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

#: An origin whose hostname belongs to no site of the tests.
FOREIGN_ORIGIN = "https://attacker.example"
#: An origin on the hostname of the ``other_site`` fixture.
OTHER_SITE_ORIGIN = "https://rink.example.fr"
#: An origin on the second hostname of the ``site`` fixture. The ``issued``
#: fixture's challenges are issued to localhost, the first one.
SECOND_HOSTNAME_ORIGIN = "https://portal.example.fr"
#: A well-formed challenge id that no challenge has.
UNUSED_CHALLENGE_ID = "A" * 22


def load_document() -> dict[str, Any]:
    """Parse ``openapi.yaml`` into a dictionary."""
    with DOCUMENT_PATH.open(encoding="utf-8") as handle:
        return yaml.safe_load(handle)


class SentRequest(WerkzeugOpenAPIRequest):
    """The request behind a test-client response, with its body as sent.

    The application has already read ``wsgi.input`` when the test client
    returns, so the body is taken from the client's in-memory buffer.
    """

    @property
    def body(self) -> bytes:
        return self.request.environ["wsgi.input"].getvalue()


def describe_errors(errors: Iterable[BaseException]) -> str:
    """Format validation errors and their causes, one per line."""
    lines = []

    for error in errors:
        lines.append(f"{type(error).__name__}: {error}")
        cause = error.__cause__

        while cause is not None:
            lines.append(f"  caused by {type(cause).__name__}: {cause}")

            for schema_error in getattr(cause, "schema_errors", ()):
                location = "/".join(str(part) for part in schema_error.absolute_path)
                lines.append(f"    {schema_error.message} (at /{location})")

            cause = cause.__cause__

    return "\n".join(lines)


def describe_body(response: TestResponse) -> str:
    """Return the body as text, or its type and size when it is binary."""
    data = response.get_data()

    try:
        return data.decode()
    except UnicodeDecodeError:
        return f"{len(data)} bytes of {response.mimetype}"


class Contract:
    """The OpenAPI document, with checks of test-client exchanges against it."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.openapi = OpenAPI.from_dict(document)

    def request_errors(self, response: TestResponse) -> list[BaseException]:
        """Return the validation errors of the request behind ``response``."""
        request = SentRequest(response.request)
        return list(self.openapi.iter_request_errors(request))

    def response_errors(self, response: TestResponse) -> list[BaseException]:
        """Return the validation errors of ``response`` for its operation."""
        request = SentRequest(response.request)
        wrapped = WerkzeugOpenAPIResponse(response)
        return list(self.openapi.iter_response_errors(request, wrapped))

    def check(self, response: TestResponse, request_valid: bool | None = True) -> None:
        """Assert that the document allows ``response`` and judges its request.

        ``request_valid`` is True when the document accepts the request, False
        when the document rejects it too, and None when the document cannot
        tell, such as for a body over the size limit.
        """
        errors = self.response_errors(response)
        assert not errors, (
            f"{response.request.method} {response.request.path} returned"
            f" {response.status_code}, which the document does not allow:\n"
            f"{describe_errors(errors)}\nbody: {describe_body(response)}"
        )

        if request_valid is None:
            return

        request_errors = self.request_errors(response)

        if request_valid:
            assert not request_errors, (
                "The document rejects a request that the service accepts:\n"
                + describe_errors(request_errors)
            )
        else:
            assert request_errors, (
                "The document accepts a request that the service rejects"
                f" with {response.status_code}: {response.get_data(as_text=True)}"
            )

    def body_errors(self, pointer: str, body: Any) -> list[str]:
        """Return the messages of ``body`` against the schema at ``pointer``.

        ``pointer`` is a JSON pointer into the document, such as
        ``#/components/schemas/Error``, so that parts of the document that no
        operation references can be checked too.
        """
        # Unknown keywords such as ``paths`` are ignored by JSON Schema, so
        # the whole document can serve as the root that resolves $ref.
        root = dict(self.document)
        root["$ref"] = pointer
        validator = OAS31Validator(root, format_checker=oas31_format_checker)
        return [error.message for error in validator.iter_errors(body)]

    def response_body_errors(self, name: str, body: Any) -> list[str]:
        """Return the messages of ``body`` against a response component's schema."""
        pointer = f"#/components/responses/{name}/content/application~1json/schema"
        return self.body_errors(pointer, body)


# Requests and error bodies shared by the contract tests


def isoformat(timestamp: float) -> str:
    moment = datetime.fromtimestamp(int(timestamp), tz=timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def answer_path(challenge_id: str) -> str:
    return f"{CHALLENGES}/{challenge_id}/answer"


def post_body(
    client,
    path: str,
    body: Any,
    origin: str | None = ORIGIN,
    content_type: str = JSON,
):
    """POST ``body`` as JSON, or as is when it is bytes."""
    data = body if isinstance(body, bytes) else json.dumps(body)
    headers = {} if origin is None else {"Origin": origin}
    return client.post(path, data=data, content_type=content_type, headers=headers)


def post_siteverify(client, fields: Any, content_type: str = FORM):
    """POST siteverify fields form-encoded, as multipart, as JSON or as raw bytes."""
    if isinstance(fields, bytes):
        return client.post(SITEVERIFY, data=fields, content_type=content_type)

    if content_type == JSON:
        return client.post(SITEVERIFY, data=json.dumps(fields), content_type=JSON)

    return client.post(SITEVERIFY, data=fields, content_type=content_type)


def break_store(store) -> None:
    """Close the store's SQLite connection so that its next query fails.

    The SQLite store turns the failure into StoreUnavailable and opens a new
    connection on the following call, so exactly one store call fails.
    """
    store._connection().close()


def assert_error(
    response,
    status: int,
    error: str,
    field: str | None,
    mentions: str | None = None,
) -> None:
    """Assert an Error body, and that its message names ``mentions`` or the field."""
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    body = response.get_json()
    assert isinstance(body, dict), text
    assert body.get("status") == status, text
    assert body.get("error") == error, text
    assert body.get("field") == field, text
    expected_word = mentions or field

    if expected_word is not None:
        assert expected_word.lower() in body.get("message", "").lower(), text


def assert_siteverify_failure(response, codes: list[str], status: int = 200) -> None:
    text = response.get_data(as_text=True)
    assert response.status_code == status, text
    body = response.get_json()
    assert isinstance(body, dict), text
    assert body.get("success") is False, text
    assert body.get("error-codes") == codes, text
    assert body.get("message"), text


# Steps of any kind, answered the way a person's widget answers them


def post_answer(client, issued: dict, answer: Any, origin: str | None = ORIGIN):
    """POST ``answer`` to the step ``issued``."""
    body = {"envelope": issued["envelope"], "answer": answer}
    return post_body(client, answer_path(issued["challenge_id"]), body, origin)


def post_replace(
    client, issued: dict, alternative: Any, origin: str | None = ORIGIN
):
    """POST a request to swap the step ``issued`` for ``alternative``."""
    body = {"envelope": issued["envelope"], "alternative": alternative}
    path = f"{CHALLENGES}/{issued['challenge_id']}/replace"
    return post_body(client, path, body, origin)


def level_flow(client, store, clock, level: int, **policy: Any) -> Flow:
    """Return a flow on a new site whose policy requires at least ``level``.

    The service caches a site's policy for a few seconds after it first reads
    it, so the policy is set before the site's first request.
    """
    site, secret = create_site(store, f"Level {level}", ["localhost"], clock.now)
    Policies(store).set(site, SitePolicy(floor=level, **policy))
    return Flow(client, site, secret, clock=clock)


def challenge_secret(issued: dict) -> tuple[dict, bytes]:
    """Return the envelope's payload and the secret the challenge was built with."""
    signer = Signer([SIGNING_KEY])
    state = signer.load(ENVELOPE, issued["envelope"])
    _, secret = signer.derive(f"challenge:{issued['challenge_id']}", state["k"])
    return state, secret


def image_answer(issued: dict) -> str:
    """Return the answer that a person reads in the image of ``issued``."""
    state, secret = challenge_secret(issued)
    family = issued["challenge"]["family"]
    return drawing.draw(family, secret, state["style"]).answer


def answer_step(flow: Flow, issued: dict):
    """Answer one step of any kind correctly, after the time a person takes."""
    challenge = issued["challenge"]

    if challenge["kind"] == "pow":
        return flow.answer(issued)

    if challenge["kind"] == "timing" and challenge["mode"] == "hold":
        flow.clock.advance(challenge["hold_ms"] / 1000)
        answer = {"held_ms": challenge["hold_ms"], "input": "key"}
        return post_answer(flow.client, issued, answer)

    if challenge["kind"] == "timing":
        flow.clock.advance(challenge["wait_ms"] / 1000)
        return post_answer(flow.client, issued, {})

    if challenge["kind"] == "image":
        flow.clock.advance(3)
        return post_answer(flow.client, issued, {"text": image_answer(issued)})

    raise AssertionError(f"unexpected kind {challenge['kind']!r}")


def pass_all_steps(flow: Flow, issued: dict, contract: Contract) -> dict:
    """Answer every step from ``issued`` on, check each response, return the last."""
    for _ in range(3):
        response = answer_step(flow, issued)
        assert response.status_code == 200, response.get_data(as_text=True)
        contract.check(response)
        body = response.get_json()

        if body["result"] == "pass":
            return body

        issued = body

    raise AssertionError("the flow has more than 3 steps")
