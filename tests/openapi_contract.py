"""Check Flask test-client requests and responses against ``openapi.yaml``.

The checks use openapi-core's request and response validators. A failed check
lists every validation error with its cause, so the assertion message shows
which field or header broke the contract.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml
from openapi_core import OpenAPI
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest
from openapi_core.contrib.werkzeug import WerkzeugOpenAPIResponse
from openapi_schema_validator import OAS31Validator
from openapi_schema_validator import oas31_format_checker
from werkzeug.test import TestResponse

DOCUMENT_PATH = Path(__file__).resolve().parent.parent / "openapi.yaml"


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
            f"{describe_errors(errors)}\nbody: {response.get_data(as_text=True)}"
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
