"""Self-hosted adaptive challenge service for public booking portals."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from collections.abc import Callable
from collections.abc import Iterable

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from . import config as config_module
from . import errors
from . import logs
from .api import register_blueprints
from .api import siteverify
from .service import ChallengeService
from .signals import Visitors
from .service import Settings
from .audit import AuditLog
from .maintenance import PurgeJob
from .testkeys import ensure_test_sites
from .keys import KEYS_FILE
from .keys import KeyFile
from .keys import KeyFileError
from .keys import KeyFileSigner
from .signing import InvalidSignature
from .signing import KEY_PROBE
from .signing import Signer
from .errors import StoreUnavailable
from .storage import open_store
from .storage import Store

logger = logging.getLogger(__name__)

DATABASE_NAME = "challenge-service.sqlite3"


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the service from the environment, then ``test_config`` on top.

    :raises config.ConfigError: if a setting is missing or invalid.
    """
    # Settings: defaults, then the environment, then the caller's overrides.
    settings = dict(config_module.DEFAULTS)
    settings.update(config_module.load_env())
    settings.update(test_config or {})
    data_dir = Path(settings["DATA_DIR"]).resolve()

    config_module.validate(settings)
    signer = _signer(settings, data_dir)

    app = Flask(__name__, static_folder=None)
    app.config.update(settings)
    app.config["MAX_CONTENT_LENGTH"] = settings["MAX_BODY_BYTES"]
    app.config["DATA_DIR"] = str(data_dir)
    logs.configure_logging(app)

    # The flow and its parts.
    store = settings.get("STORE") or _store(settings, data_dir)
    service = ChallengeService(
        store=store,
        signer=signer,
        settings=Settings(
            challenge_ttl=settings["CHALLENGE_TTL"],
            token_ttl=settings["TOKEN_TTL"],
            ticket_ttl=settings["RISK_TICKET_TTL"],
            epoch_seconds=settings["EPOCH_SECONDS"],
            test_keys=settings["TEST_KEYS"],
            adaptive=settings["ADAPTIVE"],
        ),
        clock=settings.get("CLOCK") or time.time,
        visitors=Visitors(store, flush_ms=settings["COUNTER_FLUSH_MS"]),
        audit=AuditLog(store, settings["AUDIT_FLUSH_MS"]),
    )
    app.extensions["challenge_service"] = service
    _check_shared_keys(store, signer)

    # Functions to run before every request, in Flask and in FastVerify.
    on_request: list[Callable[[], object]] = []

    if settings["TEST_KEYS"]:
        on_request.extend(_create_test_sites(store, service.clock))

    purge_job = PurgeJob(
        store,
        service.clock,
        settings["AUDIT_RETENTION"],
        settings["RATE_RETENTION"],
        settings["PURGE_INTERVAL"],
    )
    app.extensions["purge_job"] = purge_job
    # Started on the first request, so that each forked worker runs its own.
    on_request.append(purge_job.start)

    for function in on_request:
        app.before_request(function)

    # HTTP: error handlers, blueprints, headers.
    errors.init_app(app)
    # Werkzeug would answer a path with "//" by a redirect built from the Host
    # header; such a path is simply not found here.
    app.url_map.merge_slashes = False
    register_blueprints(app)
    app.wsgi_app = siteverify.FastVerify(
        app.wsgi_app, service, settings["MAX_BODY_BYTES"], on_request
    )
    app.wsgi_app = _SecurityHeaders(app.wsgi_app)

    if settings["PROXY_HOPS"]:
        # The risk signals count visitors by network, so behind a load
        # balancer the address must come from the header it sets.
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings["PROXY_HOPS"])

    return app


def _create_test_sites(
    store: Store, clock: Callable[[], float]
) -> list[Callable[[], None]]:
    """Create the test sites now, or return a function that creates them later.

    The function is for the case of a store that is down at start: it runs
    before each request until it succeeds.
    """
    try:
        ensure_test_sites(store, clock())
        return []
    except StoreUnavailable:
        logger.warning("could not create the test sites: the store is unavailable")

    done = False

    def retry() -> None:
        nonlocal done

        if not done:
            ensure_test_sites(store, clock())
            done = True

    return [retry]


def _store(settings: dict[str, Any], data_dir: Path) -> Store:
    try:
        return open_store(settings["STORE_URL"], data_dir / DATABASE_NAME)
    except StoreUnavailable as error:
        raise config_module.ConfigError(
            f"{error.message} Check CHALLENGE_SERVICE_DATA_DIR (a folder the"
            " service can write) or CHALLENGE_SERVICE_STORE_URL."
        ) from None


def _check_shared_keys(store: Store, signer: Signer | KeyFileSigner) -> None:
    """Refuse to start when the store is shared with instances using other keys.

    The first instance stores a value signed with its newest key. Every later
    start must verify it, because an instance that cannot would reject the
    challenges and tokens that the others sign. A verified value signed with
    an older key is replaced, so that the check follows key rotations.
    """
    probe = signer.sign(KEY_PROBE, {"check": "signing-keys"})

    try:
        stored = store.claim_setting("signing-key-probe", probe)

        if stored != probe:
            signer.load(KEY_PROBE, stored)
            store.replace_setting("signing-key-probe", probe)
    except InvalidSignature:
        raise config_module.ConfigError(
            "The store is shared with instances that use other signing keys."
            " Give every instance the same CHALLENGE_SERVICE_SIGNING_KEYS or the"
            " same signing-keys.json."
        ) from None
    except StoreUnavailable:
        # The store may come back later; requests then fail cleanly until it
        # does, and the check runs again at the next start.
        logger.warning("could not check the signing keys: the store is unavailable")


def _signer(settings: dict[str, Any], data_dir: Path) -> Signer | KeyFileSigner:
    """Return a signer with the keys of the environment or of the key file.

    Keys from the environment stay fixed while the service runs; the key file
    can be rotated under a running service. Demo mode creates the file.
    """
    if settings["SIGNING_KEYS"]:
        return Signer(settings["SIGNING_KEYS"])

    key_file = KeyFile(data_dir / KEYS_FILE)

    if settings["DEMO"]:
        try:
            key_file.ensure(time.time())
        except OSError as error:
            raise config_module.ConfigError(
                f"The signing key file {key_file.path} cannot be created ({error});"
                " set CHALLENGE_SERVICE_DATA_DIR to a folder the service can write."
            ) from None

    if not key_file.exists():
        raise config_module.missing_keys_error(key_file.path)

    try:
        return KeyFileSigner(key_file)
    except KeyFileError as error:
        raise config_module.ConfigError(str(error)) from None


class _SecurityHeaders:
    """WSGI middleware that adds the headers every response carries.

    Appending to the header list costs far less per request than editing
    Werkzeug's header object in an ``after_request`` function.
    """

    HEADERS = [
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
    ]
    API_HEADERS = [*HEADERS, ("Cache-Control", "no-store")]

    def __init__(self, wsgi_app: Callable) -> None:
        self.wsgi_app = wsgi_app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        is_api = environ.get("PATH_INFO", "").startswith("/api/")
        extra = self.API_HEADERS if is_api else self.HEADERS

        def start(status: str, headers: list, exc_info=None):
            # A header the view set itself wins over the default.
            names = [name.lower() for name, _ in headers]
            headers.extend(item for item in extra if item[0].lower() not in names)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start)
