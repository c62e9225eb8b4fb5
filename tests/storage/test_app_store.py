"""The application's choice of store from its settings."""

from __future__ import annotations

import pytest

from challenge_service import create_app
from challenge_service.config import ConfigError
from challenge_service.sites import create_site
from challenge_service.storage import RedisStore
from challenge_service.storage import SQLiteStore
from tests.conftest import Flow
from tests.conftest import SIGNING_KEY

from .conftest import flush_redis


def _app(tmp_path, **settings):
    return create_app(
        {"DATA_DIR": str(tmp_path), "SIGNING_KEYS": [SIGNING_KEY], **settings}
    )


def test_default_store_is_sqlite(tmp_path):
    store = _app(tmp_path).extensions["challenge_service"].store

    assert isinstance(store, SQLiteStore)
    assert store.path == tmp_path / "challenge-service.sqlite3"


def test_redis_url_selects_redis(tmp_path, redis_server):
    flush_redis(redis_server.url)
    app = _app(tmp_path, STORE_URL=redis_server.url)
    store = app.extensions["challenge_service"].store
    flow = Flow(app.test_client(), *create_site(store, "Pool", ["localhost"], 0))
    token = flow.pass_token()

    assert isinstance(store, RedisStore)
    assert flow.verify(token)["success"] is True
    assert flow.verify(token)["error-codes"][0] == "timeout-or-duplicate"
    assert not (tmp_path / "challenge-service.sqlite3").exists()


@pytest.mark.parametrize("url", ["http://localhost:6379", "localhost:6379"])
def test_store_url_must_be_redis(tmp_path, url):
    with pytest.raises(ConfigError, match="STORE_URL"):
        _app(tmp_path, STORE_URL=url)


def test_sites_command_uses_redis(tmp_path, redis_server, monkeypatch):
    from click.testing import CliRunner

    from challenge_service.cli import main

    flush_redis(redis_server.url)
    monkeypatch.setenv("CHALLENGE_SERVICE_STORE_URL", redis_server.url)
    result = CliRunner().invoke(
        main,
        ["sites", "add", "--name", "Rink", "--hostname", "rink.example.fr"],
        catch_exceptions=False,
    )
    sitekey = result.output.splitlines()[0].split(":", 1)[1].strip()
    store = (
        _app(tmp_path, STORE_URL=redis_server.url).extensions["challenge_service"].store
    )

    assert result.exit_code == 0
    assert store.site_by_sitekey(sitekey).name == "Rink"


def test_instances_sharing_redis_need_same_keys(tmp_path, redis_server):
    flush_redis(redis_server.url)
    _app(tmp_path / "a", STORE_URL=redis_server.url)

    with pytest.raises(ConfigError, match="other signing keys"):
        create_app(
            {
                "DATA_DIR": str(tmp_path / "b"),
                "SIGNING_KEYS": ["another-instance-key-0123456789abcdefg"],
                "STORE_URL": redis_server.url,
            }
        )
