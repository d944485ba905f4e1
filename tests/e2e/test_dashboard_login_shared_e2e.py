"""The dashboard's ``/login`` attempt limit across two real proxies (separate apps, SQLite databases)
sharing the machine's Redis under one fresh ``budget_settings.redis_prefix`` (keys deleted after):
5 failures of one username spread over both instances, then the 6th attempt, on either and even with
the right password, answers 429 ``too_many_login_attempts`` with ``Retry-After``; the counts on Redis
carry the window as TTL; other usernames still log in; a success clears the username's count.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from tests.e2e.conftest import MASTER_KEY, Proxy, write_config
from tests.e2e.test_dashboard_api import Session

from ledgerlm.proxy.app import create_app
from ledgerlm.proxy.server import ServerThread


@pytest.fixture
def fleet(redis_url: str, tmp_path: Path) -> Iterator[tuple[Proxy, Proxy, str]]:
    """Two proxies on one fresh Redis prefix, and that prefix."""
    prefix = "{ledgerlm-login-e2e-" + uuid.uuid4().hex + "}"
    running: list[tuple[ServerThread, Proxy]] = []
    try:
        for i in range(2):
            folder = tmp_path / f"proxy{i}"
            folder.mkdir()
            database = f"sqlite:///{folder / 'ledger.db'}"
            path = write_config(
                folder / "config.yaml",
                "http://127.0.0.1:9/v1",  # no model is called
                database,
                folder / "spool",
                budget_settings={"redis_prefix": prefix},
                general_settings={"redis_url": redis_url},
            )
            app = create_app(path)
            server = ServerThread(app).start()
            running.append((server, Proxy(server.url, database, app)))
        yield running[0][1], running[1][1], prefix
    finally:
        for server, proxy in running:
            proxy.close()
            server.stop()
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()


def _login(proxy: Proxy, username: str, password: str) -> tuple[int, dict[str, str], str]:
    status, body, headers = Session(proxy).call(
        "POST", "/login", {"username": username, "password": password}
    )
    return status, {k.lower(): v for k, v in headers.items()}, (body.get("error") or {}).get("code", "")


def test_failures_on_one_instance_count_on_the_other(fleet: tuple[Proxy, Proxy, str], redis_url: str) -> None:
    first, second, prefix = fleet
    for attempt in range(5):
        assert _login((first, second)[attempt % 2], "frank", "wrong")[0] == 401
    for proxy in (second, first):  # the right password, on either instance
        status, headers, code = _login(proxy, "frank", MASTER_KEY)
        assert (status, code) == (429, "too_many_login_attempts")
        assert 0 < int(headers["retry-after"]) <= 300
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=prefix + ":login:*"))
        assert len(keys) == 2  # the username from this IP, and the IP
        assert all(0 < client.pttl(key) <= 300_000 for key in keys)
    finally:
        client.close()
    assert _login(second, "admin", MASTER_KEY)[0] == 200  # others still log in, and that clears
    for _ in range(4):
        assert _login(first, "grace", "wrong")[0] == 401
    assert _login(second, "grace", MASTER_KEY)[0] == 200  # a success clears grace's 4 failures
    for _ in range(4):
        assert _login(first, "grace", "wrong")[0] == 401
    assert _login(second, "grace", MASTER_KEY)[0] == 200
