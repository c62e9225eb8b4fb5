"""Contract tests: ``openapi.yaml`` against the Flask routes and real responses.

Every exchange goes through the Flask test client and is checked with
openapi-core. The response must be one that the document allows for the
operation. A request that the service rejects must be rejected by the
document too, unless only the service can tell, as for an unknown site key or
a wrong answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator
from openapi_spec_validator import validate

from challenge_service import challenges
from challenge_service import config
from challenge_service import errors
from challenge_service import policy
from challenge_service import server
from challenge_service import service as service_module
from challenge_service import signing
from challenge_service import tickets
from challenge_service.api import assets
from challenge_service.api import challenges as challenges_api
from challenge_service.api import media as media_api
from challenge_service.api import schemas
from challenge_service.api import siteverify as siteverify_api
from challenge_service.api import tickets as tickets_api
from challenge_service.challenges import image as image_kind
from challenge_service.challenges import proof_of_work
from challenge_service.challenges import timing
from challenge_service.media import image as drawing
from challenge_service.policy import MAX_LEVEL
from challenge_service.policy import plan
from challenge_service.policy import SitePolicy
from challenge_service.policies import Policies
from challenge_service.sites import create_site
from conftest import ORIGIN
from conftest import solve_challenge
from openapi_contract import answer_path
from openapi_contract import assert_error
from openapi_contract import assert_siteverify_failure
from openapi_contract import break_store
from openapi_contract import CHALLENGES
from openapi_contract import Contract
from openapi_contract import FOREIGN_ORIGIN
from openapi_contract import FORM
from openapi_contract import isoformat
from openapi_contract import JSON
from openapi_contract import load_document
from openapi_contract import MULTIPART
from openapi_contract import OTHER_SITE_ORIGIN
from openapi_contract import post_body
from openapi_contract import post_siteverify
from openapi_contract import SECOND_HOSTNAME_ORIGIN
from openapi_contract import SITEVERIFY
from openapi_contract import UNUSED_CHALLENGE_ID

HTTP_METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

WIDGET_DIR = assets.asset_root() / "widgets" / "captcha"
WIDGET_FILES = sorted(path.name for path in WIDGET_DIR.iterdir() if path.is_file())


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return load_document()


@pytest.fixture(scope="module")
def contract(document) -> Contract:
    return Contract(document)


@pytest.fixture
def service(app):
    return app.extensions["challenge_service"]


@pytest.fixture
def issued(flow) -> dict[str, Any]:
    """Return a challenge issued to ORIGIN for the action ``book``."""
    response = flow.issue()
    assert response.status_code == 201, response.get_data(as_text=True)
    return response.get_json()


# The document


def test_document_is_valid_openapi_31(document):
    assert document["openapi"].startswith("3.1.")
    validate(document, cls=OpenAPIV31SpecValidator)


def app_routes(app) -> dict[str, dict[str, str]]:
    """Return ``{path: {method: blueprint}}`` for the app's routes.

    Flask adds HEAD to GET routes and OPTIONS to routes that do not define it,
    and the document lists neither.
    """
    routes: dict[str, dict[str, str]] = {}

    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue

        path = rule.rule.replace("<path:", "<").replace("<", "{").replace(">", "}")
        methods = set(rule.methods) - {"HEAD"}

        if rule.provide_automatic_options:
            methods.discard("OPTIONS")

        blueprint = rule.endpoint.split(".", 1)[0]

        for method in methods:
            routes.setdefault(path, {})[method.lower()] = blueprint

    return routes


def documented_routes(document) -> dict[str, dict[str, dict[str, Any]]]:
    """Return ``{path: {method: operation}}`` for the document's operations."""
    return {
        path: {
            method: operation
            for method, operation in item.items()
            if method in HTTP_METHODS
        }
        for path, item in document["paths"].items()
    }


def test_every_route_is_documented(app, document):
    documented = documented_routes(document)

    for path, methods in app_routes(app).items():
        assert path in documented, f"{path} is routed but not documented"
        assert set(methods) == set(documented[path]), path


def test_every_documented_path_is_routed(app, document):
    routes = app_routes(app)

    for path, operations in documented_routes(document).items():
        assert path in routes, f"{path} is documented but not routed"
        assert set(operations) == set(routes[path]), path


def test_operations_tagged_by_blueprint(app, document):
    routes = app_routes(app)
    operation_ids = []

    for path, operations in documented_routes(document).items():
        for method, operation in operations.items():
            assert operation["tags"] == [routes[path][method]], (path, method)
            assert operation["summary"], (path, method)
            operation_ids.append(operation["operationId"])

    assert len(operation_ids) == len(set(operation_ids))
    assert {tag["name"] for tag in document["tags"]} == {
        "challenges",
        "media",
        "tickets",
        "siteverify",
        "assets",
        "health",
    }


def service_error_classes() -> list[type[errors.ServiceError]]:
    found = []
    pending = list(errors.ServiceError.__subclasses__())

    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())

    return found


def documented_error_statuses(node: Any) -> set[tuple[int, str]]:
    """Return every (status, error) pair that a schema in ``node`` fixes with const."""
    pairs = set()

    if isinstance(node, dict):
        properties = node.get("properties", {})
        status = properties.get("status", {})
        error = properties.get("error", {})

        if isinstance(status, dict) and "const" in status and "const" in error:
            pairs.add((status["const"], error["const"]))

        for value in node.values():
            pairs |= documented_error_statuses(value)
    elif isinstance(node, list):
        for value in node:
            pairs |= documented_error_statuses(value)

    return pairs


def test_error_codes_match_service(document):
    documented = set(document["components"]["schemas"]["ErrorCode"]["enum"])
    raised = {cls.code for cls in service_error_classes()}
    http_codes = set(errors._HTTP_CODES.values())
    server_codes = {code for code, _ in server._SERVER_ERRORS.values()}
    fallbacks = {"internal-error", errors.ServiceError.code}
    assert documented == raised | http_codes | server_codes | fallbacks


def test_error_statuses_match_service(document):
    pairs = documented_error_statuses(document["components"])

    for cls in service_error_classes():
        assert (cls.status, cls.code) in pairs, cls.__name__

    for status, code in errors._HTTP_CODES.items():
        assert (status, code) in pairs, code


def test_siteverify_codes_match_service(document):
    documented = set(document["components"]["schemas"]["SiteverifyErrorCode"]["enum"])
    detail_codes = {"expired-input-response", "already-seen-response"}
    assert documented == set(siteverify_api.MESSAGES) | detail_codes


def schema_value(document, *keys: str) -> Any:
    node = document["components"]

    for key in keys:
        node = node[key]

    return node


#: (bits, puzzles, salt length) of every proof of work the service can issue.
POW_COSTS = [
    proof_of_work.cost(level, variant)
    for level in proof_of_work.LEVELS
    for variant in proof_of_work.VARIANTS
]
POW_BITS = [bits for bits, _, _ in POW_COSTS]
POW_PUZZLES = [puzzles for _, puzzles, _ in POW_COSTS]
SALT_PATTERN = "^({})$".format(
    "|".join(
        f"[A-Za-z0-9_-]{{{length}}}"
        for length in sorted({length for _, _, length in POW_COSTS})
    )
)
HOLD_RANGES = list(timing.VARIANTS.values())
#: Most steps of any plan, over every level and proof-of-work cap.
MAX_STEPS = max(
    len(plan(level, SitePolicy(max_pow_level=cap)))
    for level in range(MAX_LEVEL + 1)
    for cap in range(MAX_LEVEL + 1)
)
SITEVERIFY_FIELD = ("schemas", "SiteverifyRequest", "properties")
IMAGE_CHALLENGE = ("schemas", "ImageChallenge", "properties")
STEP_FIELD = ("schemas", "IssuedChallengeFields", "properties")
TICKET_FIELD = ("schemas", "RiskTicketRequest", "properties")


#: (path below ``components``, value in the code) for every limit the
#: document copies from the code.
DOCUMENTED_LIMITS = [
    (("schemas", "Action", "pattern"), schemas.ACTION.pattern),
    (("schemas", "ChallengeId", "pattern"), service_module.CHALLENGE_ID.pattern),
    (
        SITEVERIFY_FIELD + ("idempotency_key", "pattern"),
        siteverify_api.IDEMPOTENCY_KEY.pattern,
    ),
    (("schemas", "Language", "enum"), list(schemas.LANGUAGES)),
    (("schemas", "Nonce", "maximum"), proof_of_work.MAX_NONCE - 1),
    (
        ("schemas", "ProofOfWorkAnswer", "properties", "nonces", "maxItems"),
        proof_of_work.MAX_PUZZLES,
    ),
    (("schemas", "Level", "minimum"), min(proof_of_work.LEVELS)),
    (("schemas", "Level", "maximum"), MAX_LEVEL),
    (
        ("schemas", "ProofOfWorkChallenge", "properties", "bits", "minimum"),
        min(POW_BITS),
    ),
    (
        ("schemas", "ProofOfWorkChallenge", "properties", "bits", "maximum"),
        max(POW_BITS),
    ),
    (
        ("schemas", "ProofOfWorkChallenge", "properties", "puzzles", "minimum"),
        min(POW_PUZZLES),
    ),
    (
        ("schemas", "ProofOfWorkChallenge", "properties", "puzzles", "maximum"),
        max(POW_PUZZLES),
    ),
    (
        ("schemas", "ProofOfWorkChallenge", "properties", "salt", "pattern"),
        SALT_PATTERN,
    ),
    (
        ("schemas", "HoldChallenge", "properties", "hold_ms", "minimum"),
        min(low for low, _ in HOLD_RANGES),
    ),
    (
        ("schemas", "HoldChallenge", "properties", "hold_ms", "maximum"),
        max(high for _, high in HOLD_RANGES),
    ),
    (
        ("schemas", "WaitChallenge", "properties", "wait_ms", "maximum"),
        timing.MAX_WAIT_MS,
    ),
    (
        ("schemas", "TimingAnswer", "properties", "input", "enum"),
        [*timing.INPUTS, None],
    ),
    (
        ("schemas", "ImageAnswer", "properties", "text", "maxLength"),
        image_kind.MAX_ANSWER_LENGTH,
    ),
    (IMAGE_CHALLENGE + ("max_length", "const"), image_kind.MAX_ANSWER_LENGTH),
    (IMAGE_CHALLENGE + ("width", "const"), drawing.CSS_WIDTH),
    (IMAGE_CHALLENGE + ("height", "const"), drawing.CSS_HEIGHT),
    (IMAGE_CHALLENGE + ("family", "enum"), list(drawing.FAMILIES)),
    (STEP_FIELD + ("step", "maximum"), MAX_STEPS),
    (STEP_FIELD + ("steps", "maximum"), MAX_STEPS),
    (
        ("schemas", "SiteverifySuccess", "properties", "kinds", "maxItems"),
        MAX_STEPS,
    ),
    (
        ("schemas", "WrongAnswerError", "properties", "attempts_left", "maximum"),
        service_module.MAX_ATTEMPTS - 1,
    ),
    (("schemas", "ReasonCode", "enum"), list(policy.REASONS)),
    (TICKET_FIELD + ("reasons", "maxItems"), tickets.MAX_REASONS),
    (TICKET_FIELD + ("reasons", "items", "pattern"), tickets.REASON_CODE.pattern),
    (("schemas", "Envelope", "maxLength"), signing.MAX_SIGNED_LENGTH),
    (("schemas", "SignedValue", "maxLength"), signing.MAX_SIGNED_LENGTH),
    (("schemas", "SiteKey", "maxLength"), siteverify_api.FIELD_LIMITS["sitekey"]),
    (SITEVERIFY_FIELD + ("secret", "maxLength"), siteverify_api.FIELD_LIMITS["secret"]),
    (
        SITEVERIFY_FIELD + ("response", "maxLength"),
        siteverify_api.FIELD_LIMITS["response"],
    ),
    (
        SITEVERIFY_FIELD + ("remoteip", "maxLength"),
        siteverify_api.FIELD_LIMITS["remoteip"],
    ),
    # Seconds left are rounded down, so a lifetime issued at a fraction of a
    # second shows one less than the setting.
    (("schemas", "Lifetime", "minimum"), config.MIN_TTL - 1),
    (("schemas", "Lifetime", "maximum"), config.MAX_TTL),
    (
        ("headers", "AccessControlMaxAge", "schema", "const"),
        challenges_api.PREFLIGHT_MAX_AGE,
    ),
    (
        ("headers", "CacheControlWidget", "schema", "const"),
        f"public, max-age={assets.WIDGET_MAX_AGE}",
    ),
]


@pytest.mark.parametrize(
    ("keys", "expected"),
    DOCUMENTED_LIMITS,
    ids=["-".join(keys) for keys, _ in DOCUMENTED_LIMITS],
)
def test_limit_matches_code(document, keys, expected):
    assert schema_value(document, *keys) == expected


def test_idempotency_key_limit_matches_code():
    limit = siteverify_api.FIELD_LIMITS["idempotency_key"]
    assert siteverify_api.IDEMPOTENCY_KEY.pattern.endswith(f"{{1,{limit}}}$")


def test_kinds_match_registry(document):
    documented = document["components"]["schemas"]["Kind"]["enum"]
    mapping = document["components"]["schemas"]["ChallengeParameters"]["discriminator"]

    assert sorted(documented) == challenges.names()
    assert sorted(mapping["mapping"]) == challenges.names()


def test_proof_of_work_variants_match_code(document):
    variants = document["components"]["schemas"]["ProofOfWorkChallenge"]["oneOf"]
    documented = {}

    for variant in variants:
        salt = variant["properties"]["salt"]
        assert salt["minLength"] == salt["maxLength"], variant["title"]
        costs = sorted(
            (case["properties"]["bits"]["const"], case["properties"]["puzzles"]["const"])
            for case in variant["anyOf"]
        )
        documented[variant["title"]] = (salt["minLength"], costs)

    expected = {
        name: (
            proof_of_work.cost(0, name)[2],
            sorted(proof_of_work.cost(level, name)[:2] for level in proof_of_work.LEVELS),
        )
        for name in proof_of_work.VARIANTS
    }
    assert documented == expected


def test_proof_of_work_table_matches_code(document):
    description = document["components"]["schemas"]["ProofOfWorkChallenge"][
        "description"
    ]

    for name in proof_of_work.VARIANTS:
        cells = [
            f"{bits} x {puzzles}"
            for bits, puzzles, _ in (
                proof_of_work.cost(level, name) for level in sorted(proof_of_work.LEVELS)
            )
        ]
        salt_length = proof_of_work.cost(0, name)[2]
        row = f"| {name} | {salt_length} | {' | '.join(cells)} |"
        assert row in description, row


def test_media_rate_limit_matches_code(document):
    operation = document["paths"]["/api/v1/challenges/{challenge_id}/image"]["get"]

    assert f"at most {media_api.MEDIA_PER_MINUTE} images" in operation["description"]


def test_ticket_secret_error_is_a_service_error():
    assert tickets_api.InvalidSecret in service_error_classes()


def document_examples(node: Any, path: str = "#") -> list[tuple[str, str, Any]]:
    """Return (location, schema pointer, value) for every example in ``node``.

    Schemas carry a list under ``examples``; media types carry a map of
    example objects, whose ``value`` must match the media type's schema.
    """
    found = []

    if isinstance(node, dict):
        if path.startswith("#/components/schemas/") and isinstance(
            node.get("examples"), list
        ):
            for index, value in enumerate(node["examples"]):
                found.append((f"{path}/examples/{index}", path, value))

        if "schema" in node and isinstance(node.get("examples"), dict):
            for name, example in node["examples"].items():
                found.append((f"{path}/examples/{name}", f"{path}/schema", example["value"]))

        for key, value in node.items():
            escaped = str(key).replace("~", "~0").replace("/", "~1")
            found.extend(document_examples(value, f"{path}/{escaped}"))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.extend(document_examples(value, f"{path}/{index}"))

    return found


def test_document_has_examples_of_new_shapes(document):
    locations = [location for location, _, _ in document_examples(document)]

    assert len(locations) >= 20, locations
    assert any("AnswerNotAccepted" in location for location in locations)
    assert any("replace" in location for location in locations)


@pytest.mark.parametrize(
    ("location", "pointer", "value"),
    document_examples(load_document()),
    ids=[location for location, _, _ in document_examples(load_document())],
)
def test_example_matches_schema(contract, location, pointer, value):
    assert contract.body_errors(pointer, value) == []


# Issuing a challenge


def epoch_pow_cost(service, now: float, level: int) -> tuple[int, int, int]:
    """Return (bits, puzzles, salt length) of a proof of work issued at ``now``."""
    variants = proof_of_work.ProofOfWork.variants
    selection = service.rotation.select("pow", len(variants), now)
    return proof_of_work.cost(level, variants[selection.variant])


@pytest.mark.parametrize("level", range(MAX_LEVEL + 1))
def test_create_challenge_pow_of_every_variant(
    client, store, service, contract, clock, level
):
    # Consecutive epochs select different variants, so one epoch per variant
    # issues every variant of the level.
    site, _ = create_site(store, f"Level {level}", ["localhost"], clock.now)
    Policies(store).set(site, SitePolicy(floor=level, network_limit=0))
    seen = set()

    for _ in proof_of_work.VARIANTS:
        response = post_body(
            client, CHALLENGES, {"sitekey": site.sitekey, "action": "book"}
        )

        assert response.status_code == 201, response.get_data(as_text=True)
        contract.check(response)
        body = response.get_json()
        bits, puzzles, salt_length = epoch_pow_cost(service, clock.now, level)
        assert body["level"] == level
        assert body["challenge"]["bits"] == bits
        assert body["challenge"]["puzzles"] == puzzles
        assert len(body["challenge"]["salt"]) == salt_length
        seen.add(salt_length)
        clock.advance(config.DEFAULTS["EPOCH_SECONDS"])

    assert len(seen) == len(proof_of_work.VARIANTS)


@pytest.mark.parametrize(
    ("origin", "extra"),
    [
        (ORIGIN, {}),
        (ORIGIN, {"lang": "fr"}),
        (ORIGIN, {"lang": "en"}),
        (ORIGIN, {"action": "Z9_.-" + "a" * 27}),
        (SECOND_HOSTNAME_ORIGIN, {}),
        ("http://localhost", {"comment": "unknown fields are ignored"}),
    ],
    ids=[
        "default-lang",
        "fr",
        "en",
        "action-32-chars",
        "second-hostname",
        "extra-field",
    ],
)
def test_create_challenge_issues_pow(flow, service, contract, clock, origin, extra):
    response = flow.issue(origin=origin, **extra)

    assert response.status_code == 201, response.get_data(as_text=True)
    contract.check(response)
    body = response.get_json()
    bits, puzzles, salt_length = epoch_pow_cost(service, clock.now, level=0)
    assert body["level"] == 0
    assert body["step"] == 1
    assert body["steps"] == 1
    assert body["expires_in"] == config.DEFAULTS["CHALLENGE_TTL"]
    assert body["expires_at"] == isoformat(clock.now + body["expires_in"])
    assert body["challenge"]["kind"] == "pow"
    assert body["challenge"]["bits"] == bits
    assert body["challenge"]["puzzles"] == puzzles
    assert len(body["challenge"]["salt"]) == salt_length
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Vary"] == "Origin"
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


@dataclass(frozen=True)
class Rejection:
    """A request that the service rejects, and the Error it must return.

    ``body`` builds the request body from the site key when issuing, or from
    the issued challenge when answering. Bytes are sent as they are.
    ``request_valid`` is passed to :meth:`Contract.check`.
    """

    body: Callable[[Any], Any]
    status: int
    error: str
    field: str | None
    mentions: str | None = None
    origin: str | None = ORIGIN
    content_type: str = JSON
    request_valid: bool | None = False
    challenge_id: Callable[[dict], str] = lambda issued: issued["challenge_id"]


def create_body(**fields: Any) -> Callable[[str], dict]:
    """Return a builder of a valid issuing body with ``fields`` changed.

    A field given as ``...`` is left out.
    """

    def build(sitekey: str) -> dict:
        body = {"sitekey": sitekey, "action": "book", **fields}
        return {name: value for name, value in body.items() if value is not ...}

    return build


def invalid_create(field: str, **fields: Any) -> Rejection:
    return Rejection(create_body(**fields), 400, "invalid-request", field)


CREATE_REJECTIONS = [
    pytest.param(
        Rejection(
            lambda key: json.dumps(create_body()(key)).encode(),
            415,
            "unsupported-media-type",
            "Content-Type",
            content_type="text/plain",
        ),
        id="text-plain-body",
    ),
    pytest.param(
        Rejection(lambda key: b'{"sitekey": ', 400, "invalid-request", None, "JSON"),
        id="invalid-json",
    ),
    pytest.param(
        Rejection(lambda key: b"[]", 400, "invalid-request", None, "JSON object"),
        id="json-array",
    ),
    pytest.param(
        Rejection(lambda key: b'"book"', 400, "invalid-request", None, "JSON object"),
        id="json-string",
    ),
    pytest.param(invalid_create("sitekey", sitekey=...), id="sitekey-missing"),
    pytest.param(invalid_create("sitekey", sitekey=""), id="sitekey-empty"),
    pytest.param(invalid_create("sitekey", sitekey=None), id="sitekey-null"),
    pytest.param(invalid_create("sitekey", sitekey=42), id="sitekey-number"),
    pytest.param(invalid_create("sitekey", sitekey="s" * 65), id="sitekey-65-chars"),
    pytest.param(invalid_create("action", action=...), id="action-missing"),
    pytest.param(invalid_create("action", action=""), id="action-empty"),
    pytest.param(invalid_create("action", action="book now"), id="action-space"),
    pytest.param(invalid_create("action", action="book/now"), id="action-slash"),
    pytest.param(invalid_create("action", action="réserver"), id="action-non-ascii"),
    pytest.param(invalid_create("action", action="a" * 33), id="action-33-chars"),
    pytest.param(invalid_create("action", action=["book"]), id="action-list"),
    pytest.param(invalid_create("lang", lang="de"), id="lang-unknown"),
    pytest.param(invalid_create("lang", lang="FR"), id="lang-upper-case"),
    pytest.param(invalid_create("lang", lang="français"), id="lang-9-chars"),
    pytest.param(invalid_create("lang", lang=1), id="lang-number"),
    pytest.param(
        Rejection(
            create_body(sitekey="site_unknown"),
            400,
            "unknown-sitekey",
            "sitekey",
            request_valid=True,
        ),
        id="sitekey-unknown",
    ),
    pytest.param(
        Rejection(
            create_body(sitekey="s" * 64),
            400,
            "unknown-sitekey",
            "sitekey",
            request_valid=True,
        ),
        id="sitekey-64-chars-unknown",
    ),
    pytest.param(
        Rejection(create_body(), 403, "origin-not-allowed", "Origin", origin=None),
        id="origin-missing",
    ),
    pytest.param(
        Rejection(
            create_body(),
            403,
            "origin-not-allowed",
            "Origin",
            origin="null",
            request_valid=True,
        ),
        id="origin-null",
    ),
    pytest.param(
        Rejection(
            create_body(),
            403,
            "origin-not-allowed",
            "Origin",
            origin=FOREIGN_ORIGIN,
            request_valid=True,
        ),
        id="origin-foreign",
    ),
    pytest.param(
        Rejection(
            create_body(),
            403,
            "origin-not-allowed",
            "Origin",
            origin=OTHER_SITE_ORIGIN,
            request_valid=True,
        ),
        id="origin-of-other-site",
    ),
    pytest.param(
        Rejection(
            create_body(),
            403,
            "origin-not-allowed",
            "Origin",
            origin="localhost",
            request_valid=True,
        ),
        id="origin-without-scheme",
    ),
    pytest.param(
        Rejection(
            create_body(padding="x" * 17_000),
            413,
            "payload-too-large",
            None,
            mentions=str(config.DEFAULTS["MAX_BODY_BYTES"]),
            request_valid=None,
        ),
        id="body-too-large",
    ),
]


@pytest.mark.parametrize("case", CREATE_REJECTIONS)
def test_create_challenge_rejects(client, site, other_site, contract, case):
    body = case.body(site[0].sitekey)
    response = post_body(client, CHALLENGES, body, case.origin, case.content_type)

    assert_error(response, case.status, case.error, case.field, case.mentions)
    contract.check(response, request_valid=case.request_valid)

    if case.origin is not None:
        assert response.headers["Access-Control-Allow-Origin"] == case.origin


def test_create_challenge_store_unavailable(flow, store, contract):
    break_store(store)
    response = flow.issue()

    assert_error(response, 503, "store-unavailable", None)
    assert response.headers["Retry-After"] == "1"
    contract.check(response)


def test_create_challenge_unexpected_error(flow, service, contract, monkeypatch):
    def fail(*args: Any) -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(service, "issue", fail)
    response = flow.issue()

    assert_error(response, 500, "internal-error", None, mentions="error id")
    assert "simulated failure" not in response.get_data(as_text=True)
    contract.check(response)


# Answering a challenge


def answer_body(**fields: Any) -> Callable[[dict], dict]:
    """Return a builder of an answering body with ``fields`` changed.

    The default answer has the right number of nonces, all zero, which is a
    wrong answer. A field given as ``...`` is left out.
    """

    def build(issued: dict) -> dict:
        nonces = [0] * issued["challenge"]["puzzles"]
        body = {"envelope": issued["envelope"], "answer": {"nonces": nonces}, **fields}
        return {name: value for name, value in body.items() if value is not ...}

    return build


def invalid_answer(field: str, **fields: Any) -> Rejection:
    return Rejection(answer_body(**fields), 400, "invalid-request", field)


def invalid_pow_answer(field: str, answer: dict) -> Rejection:
    """Return an answer object that only a proof-of-work challenge rejects.

    The document cannot tell the kind of the challenge from the opaque
    envelope, and a timing challenge accepts any object as its answer, so
    the document accepts these requests.
    """
    return Rejection(
        answer_body(answer=answer), 400, "invalid-request", field, request_valid=True
    )


def tampered_envelope(issued: dict) -> dict:
    envelope = issued["envelope"]
    # The signature covers the encoded payload, so any changed character breaks it.
    changed = ("B" if envelope[0] == "A" else "A") + envelope[1:]
    return answer_body(envelope=changed)(issued)


ANSWER_REJECTIONS = [
    pytest.param(
        Rejection(
            lambda issued: json.dumps(answer_body()(issued)).encode(),
            415,
            "unsupported-media-type",
            "Content-Type",
            content_type="text/plain",
        ),
        id="text-plain-body",
    ),
    pytest.param(
        Rejection(lambda issued: b"{", 400, "invalid-request", None, "JSON"),
        id="invalid-json",
    ),
    pytest.param(
        Rejection(lambda issued: b"[1]", 400, "invalid-request", None, "JSON object"),
        id="json-array",
    ),
    pytest.param(invalid_answer("envelope", envelope=...), id="envelope-missing"),
    pytest.param(invalid_answer("envelope", envelope=7), id="envelope-number"),
    pytest.param(
        invalid_answer("envelope", envelope="e" * 2049), id="envelope-2049-chars"
    ),
    pytest.param(invalid_answer("answer", answer=...), id="answer-missing"),
    pytest.param(invalid_answer("answer", answer=None), id="answer-null"),
    pytest.param(invalid_answer("answer", answer=[1, 2]), id="answer-list"),
    pytest.param(invalid_pow_answer("answer", {}), id="nonces-missing"),
    pytest.param(
        invalid_pow_answer("answer", {"held_ms": 2000, "input": "key"}),
        id="timing-answer",
    ),
    pytest.param(invalid_pow_answer("answer", {"text": "AMCYR"}), id="image-answer"),
    pytest.param(
        # No kind accepts a negative hold, so the document rejects it too.
        invalid_answer("answer", answer={"held_ms": -1}),
        id="held-ms-negative",
    ),
    pytest.param(
        invalid_answer("answer", answer={"input": "mouse"}), id="input-unknown"
    ),
    pytest.param(
        invalid_pow_answer("answer.nonces", {"nonces": "1,2"}), id="nonces-string"
    ),
    pytest.param(
        invalid_pow_answer(
            "answer.nonces", {"nonces": [0] * (proof_of_work.MAX_PUZZLES + 1)}
        ),
        id="nonces-too-many",
    ),
    pytest.param(
        invalid_pow_answer("answer.nonces", {"nonces": [-1]}), id="nonce-negative"
    ),
    pytest.param(
        invalid_pow_answer("answer.nonces", {"nonces": [2**53]}),
        id="nonce-2-power-53",
    ),
    pytest.param(
        invalid_pow_answer("answer.nonces", {"nonces": [10**30]}), id="nonce-huge"
    ),
    pytest.param(
        invalid_pow_answer("answer.nonces", {"nonces": [1.5]}), id="nonce-fraction"
    ),
    pytest.param(
        # JSON Schema counts 1.0 as an integer, so only the service rejects it.
        invalid_pow_answer("answer.nonces", {"nonces": [1.0]}),
        id="nonce-whole-float",
    ),
    pytest.param(
        invalid_pow_answer("answer.nonces", {"nonces": ["1"]}), id="nonce-string"
    ),
    pytest.param(
        invalid_pow_answer("answer.nonces", {"nonces": [True]}), id="nonce-boolean"
    ),
    pytest.param(
        invalid_pow_answer("answer.nonces", {"nonces": [None]}), id="nonce-null"
    ),
    pytest.param(invalid_answer("client", client=[]), id="client-list"),
    pytest.param(invalid_answer("client", client="js"), id="client-string"),
    pytest.param(
        invalid_answer("client", client={f"field{i}": i for i in range(9)}),
        id="client-9-fields",
    ),
    pytest.param(
        invalid_answer("client.solver", client={"solver": "s" * 33}),
        id="solver-33-chars",
    ),
    pytest.param(
        invalid_answer("client.solver", client={"solver": 5}), id="solver-number"
    ),
    pytest.param(
        invalid_answer("client.hash_rate", client={"hash_rate": -1}),
        id="hash-rate-negative",
    ),
    pytest.param(
        invalid_answer("client.hash_rate", client={"hash_rate": True}),
        id="hash-rate-boolean",
    ),
    pytest.param(
        invalid_answer("client.solve_ms", client={"solve_ms": "fast"}),
        id="solve-ms-string",
    ),
    pytest.param(
        Rejection(
            answer_body(),
            404,
            "unknown-challenge",
            "challenge_id",
            challenge_id=lambda issued: "abc",
        ),
        id="challenge-id-too-short",
    ),
    pytest.param(
        Rejection(
            answer_body(),
            404,
            "unknown-challenge",
            "challenge_id",
            challenge_id=lambda issued: issued["challenge_id"] + "A",
        ),
        id="challenge-id-23-chars",
    ),
    pytest.param(
        Rejection(
            answer_body(),
            404,
            "unknown-challenge",
            "challenge_id",
            challenge_id=lambda issued: "!" * 22,
        ),
        id="challenge-id-bad-characters",
    ),
    pytest.param(
        Rejection(
            answer_body(),
            404,
            "unknown-challenge",
            "challenge_id",
            mentions=UNUSED_CHALLENGE_ID,
            request_valid=True,
            challenge_id=lambda issued: UNUSED_CHALLENGE_ID,
        ),
        id="challenge-id-of-other-challenge",
    ),
    pytest.param(
        Rejection(
            tampered_envelope, 400, "invalid-envelope", "envelope", request_valid=True
        ),
        id="envelope-tampered",
    ),
    pytest.param(
        Rejection(
            answer_body(envelope="not-an-envelope"),
            400,
            "invalid-envelope",
            "envelope",
            request_valid=True,
        ),
        id="envelope-garbage",
    ),
    pytest.param(
        Rejection(
            answer_body(envelope="e" * 2048),
            400,
            "invalid-envelope",
            "envelope",
            request_valid=True,
        ),
        id="envelope-2048-chars",
    ),
    pytest.param(
        Rejection(answer_body(), 403, "origin-not-allowed", "Origin", origin=None),
        id="origin-missing",
    ),
    pytest.param(
        Rejection(
            answer_body(),
            403,
            "origin-not-allowed",
            "Origin",
            origin=FOREIGN_ORIGIN,
            request_valid=True,
        ),
        id="origin-foreign",
    ),
    pytest.param(
        Rejection(
            answer_body(),
            403,
            "origin-not-allowed",
            "Origin",
            origin=SECOND_HOSTNAME_ORIGIN,
            request_valid=True,
        ),
        id="origin-other-hostname-of-site",
    ),
    pytest.param(
        Rejection(answer_body(), 422, "wrong-answer", "answer", request_valid=True),
        id="nonces-wrong",
    ),
    pytest.param(
        Rejection(
            answer_body(answer={"nonces": [proof_of_work.MAX_NONCE - 1] * 16}),
            422,
            "wrong-answer",
            "answer",
            request_valid=True,
        ),
        id="nonces-max-value",
    ),
    pytest.param(
        Rejection(
            answer_body(answer={"nonces": [0]}),
            422,
            "wrong-answer",
            "answer",
            request_valid=True,
        ),
        id="nonces-too-few",
    ),
    pytest.param(
        Rejection(
            answer_body(answer={"nonces": [0] * 24}),
            422,
            "wrong-answer",
            "answer",
            request_valid=True,
        ),
        id="nonces-24-items",
    ),
    pytest.param(
        Rejection(
            answer_body(answer={"nonces": []}),
            422,
            "wrong-answer",
            "answer",
            request_valid=True,
        ),
        id="nonces-empty",
    ),
    pytest.param(
        Rejection(
            answer_body(padding="x" * 17_000),
            413,
            "payload-too-large",
            None,
            mentions=str(config.DEFAULTS["MAX_BODY_BYTES"]),
            request_valid=None,
        ),
        id="body-too-large",
    ),
]


@pytest.mark.parametrize("case", ANSWER_REJECTIONS)
def test_answer_rejects(client, issued, contract, case):
    path = answer_path(case.challenge_id(issued))
    response = post_body(
        client, path, case.body(issued), case.origin, case.content_type
    )

    assert_error(response, case.status, case.error, case.field, case.mentions)
    contract.check(response, request_valid=case.request_valid)

    if case.origin is not None:
        assert response.headers["Access-Control-Allow-Origin"] == case.origin


@pytest.mark.parametrize(
    "client_report",
    [
        None,
        {"solver": "wasm", "hash_rate": 3_800_000.5, "solve_ms": 310},
        {"solver": None, "hash_rate": None, "solve_ms": 0},
        {f"field{i}": i for i in range(8)},
    ],
    ids=["no-report", "full-report", "null-fields", "8-unknown-fields"],
)
def test_answer_returns_pass_token(flow, issued, contract, clock, client_report):
    extra = {} if client_report is None else {"client": client_report}
    response = flow.answer(issued, **extra)

    assert response.status_code == 200, response.get_data(as_text=True)
    contract.check(response)
    body = response.get_json()
    # The answer comes 0.4 s after issue: the token expires TOKEN_TTL seconds
    # after the whole second of the answer, so 299.6 s are left, shown as 299.
    expires_at = int(clock.now) + config.DEFAULTS["TOKEN_TTL"]
    assert body["result"] == "pass"
    assert body["expires_at"] == isoformat(expires_at)
    assert body["expires_in"] == int(expires_at - clock.now)
    assert body["expires_in"] == config.DEFAULTS["TOKEN_TTL"] - 1
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert response.headers["Cache-Control"] == "no-store"


def test_answer_after_wrong_answer(flow, issued, contract):
    wrong = flow.answer(issued, nonces=[0] * issued["challenge"]["puzzles"])
    right = flow.answer(issued)

    assert_error(wrong, 422, "wrong-answer", "answer")
    assert right.status_code == 200, right.get_data(as_text=True)
    contract.check(right)


def test_answer_twice(flow, issued, contract):
    first = flow.answer(issued)
    second = flow.answer(issued)

    assert first.status_code == 200, first.get_data(as_text=True)
    assert_error(second, 409, "already-answered", "challenge_id", mentions="already")
    contract.check(second)


def test_answer_expired(flow, issued, clock, contract):
    clock.advance(issued["expires_in"])
    response = flow.answer(issued, nonces=[0])

    assert_error(response, 410, "expired", "envelope", mentions="expired")
    contract.check(response)


def test_answer_just_before_expiry(flow, issued, clock, contract):
    clock.advance(issued["expires_in"] - 1)
    response = flow.answer(issued)

    assert response.status_code == 200, response.get_data(as_text=True)
    contract.check(response)


def test_answer_rejects_pass_token_as_envelope(client, flow, issued, contract):
    token = flow.pass_token()
    body = answer_body(envelope=token)(issued)
    response = post_body(client, answer_path(issued["challenge_id"]), body)

    assert_error(response, 400, "invalid-envelope", "envelope")
    contract.check(response)


def test_answer_store_unavailable(flow, issued, store, contract):
    # A correct answer reaches the write that spends the challenge.
    nonces = solve_challenge(issued["challenge"])
    break_store(store)
    response = flow.answer(issued, nonces=nonces)

    assert_error(response, 503, "store-unavailable", None)
    assert response.headers["Retry-After"] == "1"
    contract.check(response)


# CORS preflight


@pytest.mark.parametrize(
    "path",
    [
        CHALLENGES,
        answer_path(UNUSED_CHALLENGE_ID),
        f"{CHALLENGES}/{UNUSED_CHALLENGE_ID}/replace",
    ],
    ids=["create", "answer", "replace"],
)
@pytest.mark.parametrize("origin", [ORIGIN, FOREIGN_ORIGIN])
def test_preflight_allows_post(client, contract, path, origin):
    response = client.options(
        path,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )

    assert response.status_code == 204
    assert response.get_data() == b""
    assert response.headers["Access-Control-Allow-Origin"] == origin
    assert response.headers["Vary"] == "Origin"
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    assert response.headers["Access-Control-Allow-Headers"] == "Content-Type"
    assert response.headers["Access-Control-Max-Age"] == str(
        challenges_api.PREFLIGHT_MAX_AGE
    )
    contract.check(response)


def test_preflight_without_origin(client, contract):
    response = client.options(CHALLENGES)

    assert response.status_code == 204
    assert "Access-Control-Allow-Origin" not in response.headers
    assert response.headers["Access-Control-Allow-Methods"] == "POST"
    contract.check(response)


# Methods and paths outside the document


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", CHALLENGES),
        ("PUT", answer_path(UNUSED_CHALLENGE_ID)),
        ("GET", f"{CHALLENGES}/{UNUSED_CHALLENGE_ID}/replace"),
        ("POST", f"{CHALLENGES}/{UNUSED_CHALLENGE_ID}/image"),
        ("DELETE", f"{CHALLENGES}/{UNUSED_CHALLENGE_ID}/audio"),
        ("GET", "/api/v1/risk-tickets"),
        ("POST", "/healthz"),
        ("DELETE", "/widget/v1/service.js"),
    ],
)
def test_method_not_allowed(client, contract, method, path):
    response = client.open(path, method=method, headers={"Origin": ORIGIN})

    assert_error(response, 405, "method-not-allowed", None)
    assert contract.response_body_errors("MethodNotAllowed", response.get_json()) == []


@pytest.mark.parametrize(
    ("method", "path"), [("GET", CHALLENGES), ("POST", "/healthz")]
)
def test_method_not_allowed_lists_allow(client, method, path):
    response = client.open(path, method=method)

    assert response.status_code == 405
    assert "Allow" in response.headers


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("POST", CHALLENGES, 415),
        ("OPTIONS", CHALLENGES, 204),
        ("POST", SITEVERIFY, 200),
        ("POST", "/api/v1/risk-tickets", 415),
        ("GET", f"{CHALLENGES}/{UNUSED_CHALLENGE_ID}/image", 400),
        ("GET", CHALLENGES, 405),
        ("GET", "/api/v1/unknown", 404),
        ("GET", "/healthz", 200),
        ("GET", "/widget/v1/missing.js", 404),
    ],
)
def test_common_headers_on_every_response(client, method, path, status):
    response = client.open(path, method=method, headers={"Origin": ORIGIN})

    assert response.status_code == status
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"

    if path.startswith("/api/"):
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("path", ["/api/v1/unknown", "/api/v1/challenges/abc"])
def test_unknown_path_not_found(client, contract, path):
    response = client.post(path, json={})

    assert_error(response, 404, "not-found", None)
    assert contract.response_body_errors("NotFound", response.get_json()) == []


# Siteverify


def test_siteverify_accepts_token(client, flow, clock, contract, encoding):
    token = flow.pass_token()
    response = post_siteverify(
        client, {"secret": flow.secret, "response": token}, content_type=encoding
    )

    assert response.status_code == 200
    contract.check(response)
    body = response.get_json()
    assert body["success"] is True
    assert body["error-codes"] == []
    assert body["hostname"] == "localhost"
    assert body["action"] == "book"
    assert body["level"] == 0
    assert body["kinds"] == ["pow"]
    assert body["reasons"] == []
    assert body["challenge_ts"] == isoformat(clock.now)
    assert "message" not in body
    assert response.headers["Cache-Control"] == "no-store"


@pytest.fixture(params=[FORM, JSON, MULTIPART], ids=["form", "json", "multipart"])
def encoding(request) -> str:
    return request.param


def test_siteverify_with_optional_fields(client, flow, contract, encoding):
    issued = flow.issue("cancel.v2", origin=SECOND_HOSTNAME_ORIGIN).get_json()
    token = flow.answer(issued, origin=SECOND_HOSTNAME_ORIGIN).get_json()["pass_token"]
    fields = {
        "secret": flow.secret,
        "response": token,
        "remoteip": "2001:db8::1",
        "idempotency_key": "7d7c2a6e-4b1f-4c39-9a43-0e6f1f1ad5c1",
        "sitekey": flow.site.sitekey,
    }
    response = post_siteverify(client, fields, content_type=encoding)

    assert response.status_code == 200
    contract.check(response)
    body = response.get_json()
    assert body["success"] is True
    assert body["hostname"] == "portal.example.fr"
    assert body["action"] == "cancel.v2"


def test_siteverify_rejects_duplicate(client, flow, contract):
    token = flow.pass_token()
    first = flow.verify(token)
    second = post_siteverify(client, {"secret": flow.secret, "response": token})

    assert first["success"] is True
    assert_siteverify_failure(second, ["timeout-or-duplicate", "already-seen-response"])
    contract.check(second)


def test_siteverify_idempotent_retry(client, flow, contract):
    token = flow.pass_token()
    fields = {"secret": flow.secret, "response": token, "idempotency_key": "retry-1"}
    first = post_siteverify(client, fields)
    retry = post_siteverify(client, fields)
    other_key = post_siteverify(client, {**fields, "idempotency_key": "retry-2"})
    no_key = flow.verify(token)

    assert first.get_json()["success"] is True
    assert retry.get_json() == first.get_json()
    contract.check(retry)
    assert_siteverify_failure(
        other_key, ["timeout-or-duplicate", "already-seen-response"]
    )
    assert no_key["error-codes"] == ["timeout-or-duplicate", "already-seen-response"]


def test_siteverify_retry_after_expiry(client, flow, clock, contract):
    token = flow.pass_token()
    fields = {"secret": flow.secret, "response": token, "idempotency_key": "retry-1"}
    first = post_siteverify(client, fields)
    clock.advance(config.DEFAULTS["TOKEN_TTL"])
    retry = post_siteverify(client, fields)

    assert first.get_json()["success"] is True
    assert_siteverify_failure(retry, ["timeout-or-duplicate", "expired-input-response"])
    contract.check(retry)


def test_siteverify_rejects_expired_token(client, flow, clock, contract):
    token = flow.pass_token()
    clock.advance(config.DEFAULTS["TOKEN_TTL"])
    response = post_siteverify(client, {"secret": flow.secret, "response": token})

    assert_siteverify_failure(
        response, ["timeout-or-duplicate", "expired-input-response"]
    )
    contract.check(response)


def test_siteverify_rejects_token_of_other_site(client, flow, other_site, contract):
    token = flow.pass_token()
    response = post_siteverify(client, {"secret": other_site[1], "response": token})

    assert_siteverify_failure(response, ["invalid-input-response"])
    contract.check(response)


@dataclass(frozen=True)
class VerifyContext:
    secret: str
    other_sitekey: str
    envelope: str


@dataclass(frozen=True)
class VerifyRejection:
    """A siteverify request that fails, and the error codes it must return.

    ``fields`` builds the fields from a :class:`VerifyContext`, and bytes are
    sent as they are. ``mentions`` is a word that the message must contain.
    """

    fields: Callable[[VerifyContext], Any]
    codes: list[str]
    mentions: str | None = None
    content_type: str = FORM
    request_valid: bool = False


def verify_fields(**fields: Any) -> Callable[[VerifyContext], dict]:
    """Return a builder of siteverify fields with ``fields`` changed.

    The defaults are the site's secret and a ``response`` that is not a token.
    A field given as ``...`` is left out, and a callable value is called with
    the context.
    """

    def build(context: VerifyContext) -> dict:
        values = {"secret": context.secret, "response": "not-a-token", **fields}
        return {
            name: value(context) if callable(value) else value
            for name, value in values.items()
            if value is not ...
        }

    return build


VERIFY_REJECTIONS = [
    pytest.param(
        VerifyRejection(
            verify_fields(secret="secret_wrong"),
            ["invalid-input-secret"],
            "secret",
            request_valid=True,
        ),
        id="secret-wrong",
    ),
    pytest.param(
        VerifyRejection(verify_fields(secret=...), ["missing-input-secret"], "secret"),
        id="secret-missing",
    ),
    pytest.param(
        VerifyRejection(verify_fields(secret=""), ["missing-input-secret"], "secret"),
        id="secret-empty",
    ),
    pytest.param(
        VerifyRejection(
            verify_fields(response=...), ["missing-input-response"], "response"
        ),
        id="response-missing",
    ),
    pytest.param(
        VerifyRejection(
            verify_fields(secret=..., response=...),
            ["missing-input-secret", "missing-input-response"],
        ),
        id="both-missing",
    ),
    pytest.param(
        VerifyRejection(verify_fields(secret="s" * 129), ["bad-request"], "secret"),
        id="secret-129-chars",
    ),
    pytest.param(
        VerifyRejection(
            verify_fields(response="r" * 2049), ["bad-request"], "response"
        ),
        id="response-2049-chars",
    ),
    pytest.param(
        VerifyRejection(verify_fields(remoteip="1" * 65), ["bad-request"], "remoteip"),
        id="remoteip-65-chars",
    ),
    pytest.param(
        VerifyRejection(
            verify_fields(remoteip="1.2.3"),
            ["invalid-remoteip"],
            "remoteip",
            request_valid=True,
        ),
        id="remoteip-invalid",
    ),
    pytest.param(
        VerifyRejection(
            verify_fields(idempotency_key="two words"),
            ["bad-request"],
            "idempotency_key",
        ),
        id="idempotency-key-space",
    ),
    pytest.param(
        VerifyRejection(
            verify_fields(idempotency_key="k" * 65),
            ["bad-request"],
            "idempotency_key",
        ),
        id="idempotency-key-65-chars",
    ),
    pytest.param(
        VerifyRejection(verify_fields(sitekey="s" * 65), ["bad-request"], "sitekey"),
        id="sitekey-65-chars",
    ),
    pytest.param(
        VerifyRejection(
            verify_fields(sitekey=lambda context: context.other_sitekey),
            ["sitekey-secret-mismatch"],
            "sitekey",
            request_valid=True,
        ),
        id="sitekey-of-other-site",
    ),
    pytest.param(
        VerifyRejection(
            verify_fields(),
            ["invalid-input-response"],
            "response",
            request_valid=True,
        ),
        id="response-not-a-token",
    ),
    pytest.param(
        VerifyRejection(
            verify_fields(response=lambda context: context.envelope),
            ["invalid-input-response"],
            "response",
            request_valid=True,
        ),
        id="response-is-envelope",
    ),
    pytest.param(
        VerifyRejection(
            lambda context: b'{"secret": ', ["bad-request"], "JSON", content_type=JSON
        ),
        id="json-invalid",
    ),
    pytest.param(
        VerifyRejection(
            lambda context: b"[]", ["bad-request"], "JSON object", content_type=JSON
        ),
        id="json-array",
    ),
    pytest.param(
        VerifyRejection(
            verify_fields(secret=5), ["bad-request"], "secret", content_type=JSON
        ),
        id="json-secret-number",
    ),
    pytest.param(
        VerifyRejection(
            verify_fields(secret=None),
            ["missing-input-secret"],
            "secret",
            content_type=JSON,
        ),
        id="json-secret-null",
    ),
    pytest.param(
        VerifyRejection(
            lambda context: f"secret={context.secret}&response=x".encode(),
            ["bad-request"],
            "Content-Type",
            content_type="text/plain",
        ),
        id="text-plain-body",
    ),
]


@pytest.mark.parametrize("case", VERIFY_REJECTIONS)
def test_siteverify_rejects(client, flow, other_site, issued, contract, case):
    context = VerifyContext(flow.secret, other_site[0].sitekey, issued["envelope"])
    response = post_siteverify(client, case.fields(context), case.content_type)

    assert_siteverify_failure(response, case.codes)
    contract.check(response, request_valid=case.request_valid)

    if case.mentions is not None:
        assert case.mentions in response.get_json()["message"]


def test_siteverify_store_unavailable(client, flow, store, contract):
    break_store(store)
    response = post_siteverify(client, {"secret": flow.secret, "response": "x.y"})

    assert_siteverify_failure(response, ["internal-error"])
    contract.check(response)


@pytest.mark.parametrize("content_type", [FORM, JSON], ids=["form", "json"])
def test_siteverify_body_too_large(client, flow, contract, content_type):
    fields = {"secret": flow.secret, "response": "x.y", "padding": "x" * 17_000}
    response = post_siteverify(client, fields, content_type)

    assert_siteverify_failure(response, ["bad-request"], status=413)
    assert str(config.DEFAULTS["MAX_BODY_BYTES"]) in response.get_json()["message"]
    contract.check(response, request_valid=None)


def test_siteverify_method_not_allowed(client, contract):
    response = client.get(SITEVERIFY)

    assert_siteverify_failure(response, ["bad-request"], status=405)
    assert "Allow" in response.headers
    assert (
        contract.response_body_errors("SiteverifyMethodNotAllowed", response.get_json())
        == []
    )


def test_siteverify_unexpected_error(client, flow, service, contract, monkeypatch):
    def fail(*args: Any) -> None:
        raise RuntimeError("simulated failure")

    monkeypatch.setattr(service, "verify", fail)
    response = post_siteverify(client, {"secret": flow.secret, "response": "x.y"})

    assert_siteverify_failure(response, ["internal-error"], status=500)
    contract.check(response)


# Assets


@pytest.mark.parametrize("filename", WIDGET_FILES)
def test_widget_file_served(client, contract, filename):
    response = client.get(f"/widget/v1/{filename}", buffered=True)

    assert response.status_code == 200
    assert response.get_data() == (WIDGET_DIR / filename).read_bytes()
    assert response.headers["Access-Control-Allow-Origin"] == "*"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert (
        response.headers["Cache-Control"] == f"public, max-age={assets.WIDGET_MAX_AGE}"
    )
    contract.check(response)


def test_widget_file_not_modified(client, contract):
    path = f"/widget/v1/{WIDGET_FILES[0]}"
    etag = client.get(path, buffered=True).headers["ETag"]
    response = client.get(path, headers={"If-None-Match": etag}, buffered=True)

    assert response.status_code == 304
    assert response.get_data() == b""
    assert response.headers["ETag"] == etag
    contract.check(response)


def test_widget_file_range(client, contract):
    content = (WIDGET_DIR / WIDGET_FILES[0]).read_bytes()
    response = client.get(
        f"/widget/v1/{WIDGET_FILES[0]}", headers={"Range": "bytes=0-9"}, buffered=True
    )

    assert response.status_code == 206
    assert response.get_data() == content[:10]
    assert response.headers["Content-Range"] == f"bytes 0-9/{len(content)}"
    contract.check(response)


def test_widget_range_not_satisfiable(client, contract):
    size = (WIDGET_DIR / WIDGET_FILES[0]).stat().st_size
    response = client.get(
        f"/widget/v1/{WIDGET_FILES[0]}",
        headers={"Range": f"bytes={size + 10}-"},
        buffered=True,
    )

    assert_error(response, 416, "range-not-satisfiable", None)
    assert response.headers["Content-Range"] == f"bytes */{size}"
    contract.check(response)


def test_static_file_served(client, contract, monkeypatch, tmp_path):
    root = tmp_path / "assets"
    (root / "static").mkdir(parents=True)
    (root / "static" / "demo.css").write_text("body { margin: 0; }\n")
    monkeypatch.setattr(assets, "asset_root", lambda: root)
    response = client.get("/static/demo.css", buffered=True)

    assert response.status_code == 200
    assert response.get_data() == b"body { margin: 0; }\n"
    assert response.headers["Cache-Control"] == "no-cache"
    assert "Access-Control-Allow-Origin" not in response.headers
    contract.check(response)


@pytest.mark.parametrize(
    "path",
    ["/widget/v1/missing.js", "/static/missing.css", "/static/demo"],
    ids=["widget-missing", "static-missing", "static-directory"],
)
def test_asset_not_found(client, contract, path):
    response = client.get(path, buffered=True)

    assert_error(response, 404, "not-found", None)
    contract.check(response)


@pytest.mark.parametrize(
    "path", ["/widget/v1/..%2F..%2Fpyproject.toml", "/static/..%2Fpyproject.toml"]
)
def test_asset_path_traversal_not_found(client, contract, path):
    # OpenAPI path parameters cannot contain "/", so only the body is checked.
    response = client.get(path, buffered=True)

    assert_error(response, 404, "not-found", None)
    assert "[project]" not in response.get_data(as_text=True)
    assert contract.response_body_errors("NotFound", response.get_json()) == []


# Health


def test_health_ok(client, contract):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "store": "ok"}
    contract.check(response)


def test_health_store_unavailable(client, store, contract):
    break_store(store)
    response = client.get("/healthz")

    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "store": "unavailable"}
    assert "Retry-After" not in response.headers
    contract.check(response)


# Hard inputs. Python's re lets '$' match before a final newline, and
# openapi-core decodes bodies with json.loads, which accepts NaN and overflows
# on deep nesting, so the request check is skipped where the validator, not
# the document, would get the case wrong.


def test_create_challenge_rejects_action_with_newline(flow, contract):
    response = flow.issue(action="book\n")

    assert_error(response, 400, "invalid-request", "action")
    contract.check(response, request_valid=None)


def test_create_challenge_rejects_deep_json(client, contract):
    body = b"[" * 5000 + b"]" * 5000
    response = post_body(client, CHALLENGES, body)

    assert_error(response, 400, "invalid-request", None, mentions="JSON")
    contract.check(response, request_valid=None)


def test_create_challenge_rejects_malformed_origin(client, site, contract):
    response = post_body(client, CHALLENGES, create_body()(site[0].sitekey), "http://[")

    assert_error(response, 403, "origin-not-allowed", "Origin")
    contract.check(response)


def test_create_challenge_rejects_lone_surrogate(client, contract):
    body = json.dumps({"sitekey": "\ud800", "action": "book"}).encode()
    response = post_body(client, CHALLENGES, body)

    assert_error(response, 400, "invalid-request", "sitekey")
    contract.check(response, request_valid=None)


def test_answer_rejects_lone_surrogate(client, issued, contract):
    body = json.dumps({"envelope": "\ud800", "answer": {"nonces": [0]}}).encode()
    response = post_body(client, answer_path(issued["challenge_id"]), body)

    assert_error(response, 400, "invalid-request", "envelope")
    contract.check(response, request_valid=None)


def test_answer_rejects_nan(client, issued, contract):
    body = json.dumps(answer_body(client={"hash_rate": float("nan")})(issued)).encode()
    assert b"NaN" in body
    response = post_body(client, answer_path(issued["challenge_id"]), body)

    assert_error(response, 400, "invalid-request", None, mentions="JSON")
    contract.check(response, request_valid=None)


def test_siteverify_rejects_idempotency_key_with_newline(client, flow, contract):
    fields = {"secret": flow.secret, "response": "x.y", "idempotency_key": "retry-1\n"}
    response = post_siteverify(client, fields)

    assert_siteverify_failure(response, ["bad-request"])
    contract.check(response, request_valid=None)


def test_siteverify_rejects_deep_json(client, contract):
    response = post_siteverify(client, b"[" * 5000 + b"]" * 5000, JSON)

    assert_siteverify_failure(response, ["bad-request"])
    contract.check(response, request_valid=None)


def test_siteverify_rejects_non_ascii_sitekey(client, flow, contract):
    fields = {"secret": flow.secret, "response": "x.y", "sitekey": "clé"}
    response = post_siteverify(client, fields)

    assert_siteverify_failure(response, ["sitekey-secret-mismatch"])
    contract.check(response)


@pytest.mark.parametrize("field", ["secret", "response"])
def test_siteverify_rejects_lone_surrogate(client, flow, contract, field):
    fields = {"secret": flow.secret, "response": "x.y", field: "\ud800"}
    body = json.dumps(fields).encode()
    response = post_siteverify(client, body, JSON)

    assert_siteverify_failure(response, ["bad-request"])
    contract.check(response, request_valid=None)
