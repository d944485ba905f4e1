"""Dashboard sessions and pages wired to live state (issue 21), on the real proxy (SQLite and PostgreSQL):

* a session is re-checked at every request: blocking the key it logged in with, or deleting its user,
  ends it at the next request; a role changed by ``/user/update`` applies at once;
* ``/login`` allows 5 failures of one username from one IP in 5 minutes, then answers 429 with
  ``Retry-After`` even for the right password; other usernames are not affected;
* the models page shows each deployment's health and cooldown as ``/model/info`` reports them;
* the keys and teams pages carry the ``budget_forecast`` of ``/key/info`` and ``/team/info``.
"""

from __future__ import annotations

import contextlib
from typing import Any

from tests.e2e.conftest import MASTER_KEY, Proxy
from tests.e2e.test_dashboard_api import MESSAGES, Session


def test_session_ends_when_its_key_is_blocked(proxy: Proxy) -> None:
    key = proxy.new_key(key_alias="session-check")
    session = Session(proxy)
    session.login(key)
    assert session.ok("/ui/api/me")["role"] == "internal_user_viewer"
    proxy.ok("POST", "/key/block", {"key": key})
    for path in ("/ui/api/me", "/ui/api/logs", "/ui/api/overview"):
        status, body, _ = session.call("GET", path)
        assert status == 401 and body["error"]["code"] == "no_session", (path, body)
    proxy.ok("POST", "/key/unblock", {"key": key})
    assert session.ok("/ui/api/me")["role"] == "internal_user_viewer"  # the same cookie works again


def test_session_follows_its_user(proxy: Proxy) -> None:
    proxy.ok("POST", "/user/new", {"user_id": "erin", "password": "erin-pw", "user_role": "internal_user"})
    session = Session(proxy)
    session.login("erin-pw", "erin")
    assert session.ok("/ui/api/me")["role"] == "internal_user"
    proxy.ok("POST", "/user/update", {"user_id": "erin", "user_role": "proxy_admin_viewer"})
    assert session.ok("/ui/api/me")["role"] == "proxy_admin_viewer"  # read again at each request
    proxy.ok("POST", "/user/delete", {"user_ids": ["erin"]})
    assert session.call("GET", "/ui/api/me")[0] == 401


def test_login_attempts_are_limited_per_username(proxy: Proxy) -> None:
    proxy.ok("POST", "/user/new", {"user_id": "frank", "password": "frank-pw"})
    for _ in range(5):
        status, body, _ = Session(proxy).call("POST", "/login", {"username": "frank", "password": "wrong"})
        assert status == 401, body
    status, body, headers = Session(proxy).call(
        "POST", "/login", {"username": "frank", "password": "frank-pw"}
    )
    assert status == 429 and body["error"]["code"] == "too_many_login_attempts", body
    assert 0 < int(headers["retry-after"]) <= 300
    assert Session(proxy).login(MASTER_KEY, "admin")[0]["role"] == "proxy_admin"  # others still log in


def test_models_page_shows_router_health(proxy: Proxy) -> None:
    client = proxy.client()
    for _ in range(2):
        with contextlib.suppress(Exception):  # the failing deployment: counted by the router
            client.chat.completions.create(model="broken", messages=MESSAGES)
    admin = Session(proxy)
    admin.login(MASTER_KEY, "admin")
    page = admin.ok("/ui/api/models")
    info = {row["model_info"]["id"]: row["model_info"] for row in proxy.ok("GET", "/model/info")["data"]}
    assert page["data"] and page["healthy"] + page["cooling_down"] == len(page["data"])
    for row in page["data"]:
        live = info[row["deployment_id"]]
        assert row["health"] == live["health"] and row["model_group"]
        assert set(row) >= {"cooldown_remaining_s", "in_flight", "current_rpm", "current_tpm"}
        assert "api_key" not in row


def test_keys_and_teams_pages_carry_budget_forecasts(proxy: Proxy) -> None:
    team = proxy.new_team(team_alias="forecast-team", max_budget=50)
    key = proxy.new_key(team_id=team, key_alias="forecast-key", max_budget=10)
    proxy.client(key).chat.completions.create(model="priced", messages=MESSAGES)
    proxy.wait_written()
    admin = Session(proxy)
    admin.login(MASTER_KEY, "admin")
    keys: dict[str, Any] = {row["key_alias"]: row for row in admin.ok("/ui/api/keys")["data"]}
    teams: dict[str, Any] = {row["team_alias"]: row for row in admin.ok("/ui/api/teams")["data"]}
    info = proxy.ok("GET", f"/key/info?key={key}")
    expected = info.get("budget_forecast") or info["info"].get("budget_forecast")
    forecast = keys["forecast-key"]["budget_forecast"]
    assert forecast is not None and expected is not None
    assert forecast["burn_rate_per_hour"] == expected["burn_rate_per_hour"]
    assert forecast["window_hours"] == expected["window_hours"]
    assert teams["forecast-team"]["budget_forecast"]["window_spend"] == forecast["window_spend"]
