"""The ``challenge-service`` command line: run the service and manage sites."""

from __future__ import annotations

import datetime
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import click

from . import config as config_module
from . import create_app
from . import DATABASE_NAME
from .config import ConfigError
from .errors import StoreUnavailable
from .keys import KEYS_FILE
from .keys import KeyFile
from .keys import KeyFileError
from .keys import RELOAD_INTERVAL
from .keys import RETIRE_MARGIN
from .maintenance import purge as purge_store
from .policies import Policies
from .policy import SitePolicy
from .challenges.timing import MAX_WAIT_MS
from .service import isoformat
from .service import MIN_ANSWER_SECONDS
from .sites import create_site
from .sites import rotate_secret
from .storage import open_store
from .storage import Site
from .storage import Store
from .storage.base import MAX_EVENTS_LIMIT
from .storage.base import validate_time

DEMO_SITE_FILE = "demo-site.json"
DEMO_HOSTNAMES = ["localhost", "127.0.0.1"]


def _set_env(name: str, value: object) -> None:
    # Settings pass through the environment so that gunicorn workers and the
    # demo portal's process read the same values as this process.
    if value is not None:
        os.environ[config_module.ENV_PREFIX + name] = str(value)


def _build_app():
    try:
        return create_app()
    except ConfigError as error:
        raise click.ClickException(str(error)) from None


def _settings() -> dict:
    """Return the settings for commands that need no signing key."""
    settings = dict(config_module.DEFAULTS)

    try:
        settings.update(config_module.load_env())
        config_module.validate_without_keys(settings)
    except ConfigError as error:
        raise click.ClickException(str(error)) from None

    return settings


def _store(data_dir: Path | None) -> Store:
    settings = _settings()
    folder = data_dir or Path(settings["DATA_DIR"])

    try:
        return open_store(settings["STORE_URL"], folder.resolve() / DATABASE_NAME)
    except StoreUnavailable as error:
        raise click.ClickException(
            f"{error.message} Check CHALLENGE_SERVICE_DATA_DIR or --data-dir"
            " (a folder the service can write) and CHALLENGE_SERVICE_STORE_URL."
        ) from None


def _site_or_fail(store: Store, sitekey: str) -> Site:
    """Return the site of ``sitekey``, or exit with an error naming it."""
    site = store.site_by_sitekey(sitekey)

    if site is None:
        raise click.ClickException(
            f"No site has the site key {sitekey!r}; see `sites list`."
        )

    return site


def _data_dir_option(function):
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        help="Folder of the SQLite store [env CHALLENGE_SERVICE_DATA_DIR;"
        " default ./challenge-data].",
    )(function)


@click.group()
def main() -> None:
    """Self-hosted adaptive challenge service for public booking portals."""


@main.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on."
)
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    help="Worker processes [default 2 x cores + 1, at most 8].",
)
@_data_dir_option
@click.option(
    "--demo",
    is_flag=True,
    help="Generate keys, create the localhost demo site and serve the demo portal.",
)
@click.option(
    "--demo-port",
    default=8081,
    show_default=True,
    type=click.IntRange(1, 65535),
    help="Port of the demo portal, another origin than the service.",
)
@click.option(
    "--dev",
    is_flag=True,
    help="Run Flask's debug server instead of gunicorn; implies --demo.",
)
def serve(host, port, workers, data_dir, demo, demo_port, dev) -> None:
    """Run the service under gunicorn."""
    from . import server

    _set_env("DATA_DIR", data_dir)

    if demo or dev:
        _set_env("DEMO", 1)

    app = _build_app()
    portal = None

    if app.config["DEMO"]:
        sitekey = _ensure_demo_site(app)
        service_url = (
            f"http://{'127.0.0.1' if host in ('0.0.0.0', '::') else host}:{port}"
        )
        portal = _start_demo_portal(app, service_url, demo_port)
        click.echo(f"Demo site key: {sitekey}")
        click.echo(f"Demo portal: http://localhost:{demo_port}/demo/")

    click.echo(f"Service: http://{host}:{port}/ (data in {app.config['DATA_DIR']})")

    try:
        if dev:
            # The debug server dies on SIGTERM without running the finally
            # block below, which would leave the demo portal running.
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
            app.run(host=host, port=port, debug=True, use_reloader=False)
        else:
            server.run(lambda: app, host, port, workers or server.default_workers())
    finally:
        if portal is not None:
            portal.terminate()
            portal.wait(timeout=10)


def _exit_on_sigterm(signum, frame) -> None:
    raise SystemExit(0)


def _ensure_demo_site(app) -> str:
    """Create the localhost demo site once and keep its secret for the demo portal.

    The demo site gets the demo's quota of bookings per household, unless it
    already has a stored policy: ``sites policy --set`` or ``--reset`` stores
    one, so a policy an operator chose is kept. A site created before the
    demo had a quota has none stored, and gets the quota at the next start.
    """
    from .demo.booking import ACTION
    from .demo.booking import HOUSEHOLD_QUOTA
    from .policies import setting_name

    service = app.extensions["challenge_service"]
    path = Path(app.config["DATA_DIR"]) / DEMO_SITE_FILE
    site = None

    if path.exists():
        record = json.loads(path.read_text())
        site = service.store.site_by_sitekey(record["sitekey"])

    if site is None:
        site, secret = create_site(
            service.store, "Demo pool", DEMO_HOSTNAMES, time.time(), demo=True
        )

        # The file contains the site's secret, so it is created 0600 instead of
        # being tightened after the write. Opening a file that an earlier run
        # left keeps its mode, so fchmod sets it.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)

        with os.fdopen(fd, "w") as handle:
            os.fchmod(handle.fileno(), 0o600)
            json.dump({"sitekey": site.sitekey, "secret": secret}, handle)

    if service.store.setting(setting_name(site.sitekey)) is None:
        service.policies.set(site, SitePolicy(quotas={ACTION: HOUSEHOLD_QUOTA}))

    return site.sitekey


def _start_demo_portal(app, service_url: str, port: int) -> subprocess.Popen:
    site_file = Path(app.config["DATA_DIR"]) / DEMO_SITE_FILE
    command = [
        sys.executable,
        "-m",
        "challenge_service.demo",
        "--port",
        str(port),
        "--service-url",
        service_url,
        "--site-file",
        str(site_file),
    ]
    return subprocess.Popen(command)


@main.group()
def sites() -> None:
    """Create, list and manage sites."""


@sites.command("add")
@click.option("--name", required=True, help="Name of the portal, for operators.")
@click.option(
    "--hostname",
    "hostnames",
    multiple=True,
    required=True,
    help="Hostname of a page that embeds the widget; repeat for several.",
)
@_data_dir_option
def sites_add(name: str, hostnames: tuple[str, ...], data_dir: Path | None) -> None:
    """Create a site and print its site key and secret once."""
    try:
        site, secret = create_site(_store(data_dir), name, list(hostnames), time.time())
    except ValueError as error:
        raise click.BadParameter(str(error), param_hint="--hostname/--name") from None

    click.echo(f"site key: {site.sitekey}")
    click.echo(f"secret:   {secret}")
    click.echo(
        "Store the secret now: it is kept only as a hash and cannot be shown again."
    )


@sites.command("list")
@_data_dir_option
def sites_list(data_dir: Path | None) -> None:
    """List the sites with their site keys and hostnames."""
    for site in _store(data_dir).sites():
        hostnames = ", ".join(site.hostnames)
        click.echo(f"{site.sitekey}  {site.name}  [{hostnames}]")


@sites.command("rotate-secret")
@click.argument("sitekey")
@click.option(
    "--grace",
    type=click.IntRange(0, 30 * 86400),
    help="Seconds the old secret keeps working [env CHALLENGE_SERVICE_SECRET_GRACE; default 86400].",
)
@_data_dir_option
def sites_rotate_secret(sitekey: str, grace: int | None, data_dir: Path | None) -> None:
    """Give a site a new secret; the old one works for a grace period."""
    if grace is None:
        grace = _settings()["SECRET_GRACE"]

    store = _store(data_dir)
    now = time.time()
    before = _site_or_fail(store, sitekey)

    _, secret = rotate_secret(store, sitekey, now, grace)
    click.echo(f"secret:   {secret}")
    click.echo(f"The old secret keeps working for {grace} seconds.")

    # Only one replaced secret is kept, so a second rotation ends the grace
    # period of the first.
    if (before.previous_secret_expires or 0) > now:
        click.echo(
            "The secret replaced by the previous rotation stopped working now,"
            " before the end of its grace period."
        )


@sites.command("policy")
@click.argument("sitekey")
@click.option(
    "--set",
    "changes",
    multiple=True,
    metavar="FIELD=JSON",
    help="Change one policy field, for example --set floor=1 or"
    " --set 'quotas={\"book\": [2, 604800]}'. Repeat for several fields.",
)
@click.option("--reset", is_flag=True, help="Go back to the default policy.")
@_data_dir_option
def sites_policy(
    sitekey: str, changes: tuple[str, ...], reset: bool, data_dir: Path | None
) -> None:
    """Show or change a site's risk policy: thresholds, budgets, quotas."""
    store = _store(data_dir)
    site = _site_or_fail(store, sitekey)

    policies = Policies(store)
    values = {} if reset else policies.get(site).to_dict()

    for change in changes:
        field, separator, raw = change.partition("=")

        if not separator:
            raise click.ClickException(
                f"--set {change!r} has no '='; write FIELD=JSON, such as floor=1."
            )

        try:
            values[field.strip()] = json.loads(raw)
        except ValueError:
            raise click.ClickException(
                f"The value of {field!r} is not JSON; quote strings and write"
                " lists as [2, 604800]."
            ) from None

    if changes or reset:
        try:
            policies.set(site, SitePolicy.from_dict(values))
        except (ValueError, TypeError) as error:
            raise click.ClickException(f"The policy was not changed: {error}") from None

        click.echo("Policy saved; running services apply it within 5 seconds.")

    click.echo(json.dumps(policies.get(site).to_dict(), indent=2, sort_keys=True))


def _key_file(data_dir: Path | None) -> KeyFile:
    # Keys set in the environment cannot be rotated from here: every instance
    # reads its own copy, so the operator changes them all.
    settings = _settings()

    if settings["SIGNING_KEYS"]:
        raise click.ClickException(
            "The signing keys come from CHALLENGE_SERVICE_SIGNING_KEYS. Append a"
            " new key to that list on every instance to rotate, and remove the"
            " oldest once the longest lifetime has passed."
        )

    return KeyFile((data_dir or Path(settings["DATA_DIR"])).resolve() / KEYS_FILE)


def _max_lifetime() -> int:
    # A timed step may outlive the challenge lifetime by its wait.
    settings = _settings()
    longest_step = max(
        settings["CHALLENGE_TTL"], MAX_WAIT_MS // 1000 + MIN_ANSWER_SECONDS
    )
    return max(longest_step, settings["TOKEN_TTL"], settings["RISK_TICKET_TTL"])


@main.group()
def keys() -> None:
    """Rotate the signing keys kept in the data folder."""


@keys.command("list")
@_data_dir_option
def keys_list(data_dir: Path | None) -> None:
    """List the signing keys, oldest first; the last one signs."""
    key_file = _key_file(data_dir)

    if not key_file.exists():
        raise click.ClickException(
            f"There is no signing key file at {key_file.path}; create it with"
            " `challenge-service keys rotate`."
        )

    try:
        signing_keys = key_file.load()
    except KeyFileError as error:
        raise click.ClickException(str(error)) from None

    for key in signing_keys:
        role = "signs and verifies" if key is signing_keys[-1] else "verifies"
        click.echo(f"{key.id}  created {isoformat(key.created)}  {role}")


@keys.command("rotate")
@_data_dir_option
def keys_rotate(data_dir: Path | None) -> None:
    """Add a signing key that signs from now on; the others still verify."""
    try:
        key = _key_file(data_dir).rotate(time.time())
    except KeyFileError as error:
        raise click.ClickException(str(error)) from None

    click.echo(
        f"Added signing key {key.id}. Running services sign with it within"
        f" {RELOAD_INTERVAL:g} s; retire the older keys after"
        f" {_max_lifetime() + RETIRE_MARGIN} s."
    )


@keys.command("retire")
@click.option(
    "--force",
    is_flag=True,
    help="Remove every key but the newest now, as after a leak; open"
    " challenges and unverified tokens signed with them then fail.",
)
@_data_dir_option
def keys_retire(force: bool, data_dir: Path | None) -> None:
    """Remove the signing keys that no unexpired challenge or token can carry."""
    key_file = _key_file(data_dir)

    try:
        removed = key_file.retire(time.time(), _max_lifetime(), force)
        remaining = key_file.load()
    except KeyFileError as error:
        raise click.ClickException(str(error)) from None

    for key in removed:
        click.echo(f"Retired signing key {key.id}.")

    if removed:
        return

    older = len(remaining) - 1

    if older == 0:
        click.echo(f"Nothing to retire: {remaining[0].id} is the only signing key.")
        return

    older_keys = "the older key" if older == 1 else f"the {older} older keys"
    click.echo(
        f"No key can be retired yet: values signed with {older_keys} may still"
        " be alive. Retry later, or use --force after a leak."
    )


def _parse_time(value: str, option: str) -> float:
    """Return an ISO 8601 date or date and time as Unix seconds, UTC if unzoned."""
    try:
        parsed = datetime.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date or date and time; write"
            " 2026-12-05 or 2026-12-05T08:00:00Z.",
            param_hint=option,
        ) from None

    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.timezone.utc)

    timestamp = parsed.timestamp()

    try:
        validate_time(timestamp, option)
    except ValueError:
        # Only dates after about the year 5100 are out of the store's range.
        raise click.BadParameter(
            f"{value!r} is later than the audit trail can store; write a date"
            " before the year 5000.",
            param_hint=option,
        ) from None

    return timestamp


def _event_time(timestamp: float) -> str:
    """Return an event's time as ISO 8601 in UTC, to the millisecond."""
    moment = datetime.datetime.fromtimestamp(timestamp, datetime.timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@main.command()
@click.option("--site", "sitekey", help="Only the events of this site key.")
@click.option(
    "--since",
    help="ISO 8601 date or date and time, UTC unless zoned [default: 24 hours ago].",
)
@click.option(
    "--until", help="ISO 8601 date or date and time, UTC unless zoned [default: now]."
)
@click.option(
    "--limit",
    default=1000,
    show_default=True,
    type=click.IntRange(1, MAX_EVENTS_LIMIT),
    help="Maximum number of events to print.",
)
@_data_dir_option
def audit(
    sitekey: str | None,
    since: str | None,
    until: str | None,
    limit: int,
    data_dir: Path | None,
) -> None:
    """Print audit events as JSON lines, oldest first.

    Each line is one challenge request, answer or verification, with its
    time, site id, action, level, reason codes and outcome, and keyed hashes
    of the network and subject, never their raw values.
    """
    now = time.time()
    start = now - 86400 if since is None else _parse_time(since, "--since")
    end = now if until is None else _parse_time(until, "--until")

    if start > end:
        raise click.BadParameter(
            "--since is after --until; swap them.", param_hint="--since"
        )

    store = _store(data_dir)
    site_id = None

    if sitekey is not None:
        site_id = _site_or_fail(store, sitekey).id

    events = store.events(start, end, limit, site_id=site_id)

    for event in events:
        click.echo(json.dumps({**event, "time": _event_time(event["time"])}))

    if len(events) == limit:
        click.echo(
            f"Printed the first {limit} events. To read on, rerun with --since"
            f" {_event_time(events[-1]['time'])}; events of that exact time print"
            " again.",
            err=True,
        )


@main.command()
@_data_dir_option
def purge(data_dir: Path | None) -> None:
    """Delete expired records, old audit events and old rate data.

    Audit events older than CHALLENGE_SERVICE_AUDIT_RETENTION seconds, rate
    data older than CHALLENGE_SERVICE_RATE_RETENTION seconds and the hashing
    keys of the days before yesterday go. The service
    also purges by itself every CHALLENGE_SERVICE_PURGE_INTERVAL seconds.
    """
    settings = _settings()
    deleted = purge_store(
        _store(data_dir),
        time.time(),
        settings["AUDIT_RETENTION"],
        settings["RATE_RETENTION"],
    )

    for kind, count in deleted.items():
        click.echo(f"Deleted {count} {kind} records.")
